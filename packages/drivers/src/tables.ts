import {
  NETWORK_CODES,
  driverRules,
  stringField,
  type DriverRules,
  type DriverRulesOptions,
  type Verdict,
} from './rules.js';

type Table = Readonly<Record<string, Verdict>>;

/** PostgreSQL (node-postgres): SQLSTATE classes, from PostgreSQL's appendix "PostgreSQL Error Codes". */
export const PG_SQLSTATE_CLASSES: Table = Object.freeze({
  '08': 'fault', // connection exception
  '53': 'fault', // insufficient resources: disk full, out of memory, too many connections
  '57': 'fault', // operator intervention: query_canceled (statement_timeout), admin and crash shutdown
  '58': 'fault', // system error (external to PostgreSQL): I/O errors
  XX: 'fault', // internal error, data corrupted
  F0: 'fault', // configuration file error
  '40': 'contention', // transaction rollback: serialization failure, deadlock
  '09': 'caller', // triggered action exception
  '0A': 'caller', // feature not supported
  '0B': 'caller', // invalid transaction initiation
  '0F': 'caller', // locator exception
  '0L': 'caller', // invalid grantor
  '0P': 'caller', // invalid role specification
  '0Z': 'caller', // diagnostics exception
  '20': 'caller', // case not found
  '21': 'caller', // cardinality violation
  '22': 'caller', // data exception
  '23': 'caller', // integrity constraint violation: unique, foreign key, not null, check
  '24': 'caller', // invalid cursor state
  '25': 'caller', // invalid transaction state
  '26': 'caller', // invalid SQL statement name
  '27': 'caller', // triggered data change violation
  '28': 'caller', // invalid authorization specification: a wrong password is configuration, not an outage
  '2B': 'caller', // dependent privilege descriptors still exist
  '2D': 'caller', // invalid transaction termination
  '2F': 'caller', // SQL routine exception
  '34': 'caller', // invalid cursor name
  '38': 'caller', // external routine exception
  '39': 'caller', // external routine invocation exception
  '3B': 'caller', // savepoint exception
  '3D': 'caller', // invalid catalog name
  '3F': 'caller', // invalid schema name
  '42': 'caller', // syntax error or access rule violation: syntax, undefined table, insufficient privilege
  '44': 'caller', // WITH CHECK OPTION violation
  '54': 'caller', // program limit exceeded: a statement too complex
  '55': 'caller', // object not in prerequisite state
  '72': 'contention', // snapshot too old
  P0: 'caller', // PL/pgSQL error, RAISE EXCEPTION
});

/** PostgreSQL: single SQLSTATEs whose verdict differs from their class's. */
export const PG_SQLSTATES: Table = Object.freeze({
  '25006': 'fault', // read_only_sql_transaction: a write reached a standby (after a failover, say)
  '40002': 'caller', // transaction_integrity_constraint_violation
  '40003': 'fault', // statement_completion_unknown
  '55P03': 'contention', // lock_not_available (NOWAIT, lock_timeout)
  '55006': 'contention', // object_in_use
});

/** MariaDB and MySQL (mysql2): the driver's error codes. */
export const MYSQL_CODES: Table = Object.freeze({
  // The connection, the server and its limits.
  PROTOCOL_CONNECTION_LOST: 'fault',
  PROTOCOL_SEQUENCE_TIMEOUT: 'fault', // the query's `timeout` option
  PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR: 'fault',
  ER_CON_COUNT_ERROR: 'fault', // too many connections
  ER_TOO_MANY_USER_CONNECTIONS: 'fault',
  ER_OPTION_PREVENTS_STATEMENT: 'fault', // --read-only: a write reached a replica
  ER_READ_ONLY_MODE: 'fault',
  ER_SERVER_SHUTDOWN: 'fault',
  ER_NORMAL_SHUTDOWN: 'fault',
  ER_SHUTDOWN_COMPLETE: 'fault',
  ER_CONNECTION_KILLED: 'fault',
  ER_QUERY_INTERRUPTED: 'fault', // KILL QUERY
  ER_STATEMENT_TIMEOUT: 'fault', // max_statement_time on MariaDB (mysql2 may leave it unnamed: see class 70)
  ER_QUERY_TIMEOUT: 'fault', // max_execution_time on MySQL
  ER_OUT_OF_RESOURCES: 'fault',
  ER_OUTOFMEMORY: 'fault',
  ER_OUT_OF_SORTMEMORY: 'fault',
  ER_DISK_FULL: 'fault',
  ER_RECORD_FILE_FULL: 'fault',
  ER_NET_READ_ERROR: 'fault',
  ER_NET_READ_INTERRUPTED: 'fault',
  ER_NET_ERROR_ON_WRITE: 'fault',
  ER_NET_WRITE_INTERRUPTED: 'fault',
  ER_NET_PACKETS_OUT_OF_ORDER: 'fault',
  ER_HOST_IS_BLOCKED: 'fault',
  // Transactions in each other's way.
  ER_LOCK_DEADLOCK: 'contention',
  ER_LOCK_WAIT_TIMEOUT: 'contention',
  // The caller's own errors.
  ER_DUP_ENTRY: 'caller',
  ER_DUP_KEY: 'caller',
  ER_PARSE_ERROR: 'caller',
  ER_SYNTAX_ERROR: 'caller',
  ER_NO_SUCH_TABLE: 'caller',
  ER_BAD_TABLE_ERROR: 'caller',
  ER_BAD_FIELD_ERROR: 'caller',
  ER_BAD_DB_ERROR: 'caller',
  ER_ACCESS_DENIED_ERROR: 'caller',
  ER_DBACCESS_DENIED_ERROR: 'caller',
  ER_TABLEACCESS_DENIED_ERROR: 'caller',
  ER_COLUMNACCESS_DENIED_ERROR: 'caller',
  ER_SPECIFIC_ACCESS_DENIED_ERROR: 'caller',
  ER_DATA_TOO_LONG: 'caller',
  ER_TRUNCATED_WRONG_VALUE: 'caller',
  ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: 'caller',
  ER_WARN_DATA_OUT_OF_RANGE: 'caller',
  ER_BAD_NULL_ERROR: 'caller',
  ER_NO_DEFAULT_FOR_FIELD: 'caller',
  ER_NO_REFERENCED_ROW: 'caller',
  ER_NO_REFERENCED_ROW_2: 'caller',
  ER_ROW_IS_REFERENCED: 'caller',
  ER_ROW_IS_REFERENCED_2: 'caller',
  ER_CHECK_CONSTRAINT_VIOLATED: 'caller',
  ER_DIVISION_BY_ZERO: 'caller',
  ER_WRONG_VALUE_COUNT_ON_ROW: 'caller',
  ER_SP_DOES_NOT_EXIST: 'caller',
  ER_SIGNAL_EXCEPTION: 'caller',
  ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: 'caller', // the application's own START TRANSACTION READ ONLY
});

/**
 * MariaDB and MySQL: SQLSTATE classes, for codes the table above does not name. `HY000`, the general error,
 * names nothing: such an error counts, as every error does by default.
 */
export const MYSQL_SQLSTATE_CLASSES: Table = Object.freeze({
  '08': 'fault', // connection exception
  '70': 'fault', // query interrupted: KILL, a statement timeout, a killed connection
  '40': 'contention', // transaction rollback
  '21': 'caller',
  '22': 'caller',
  '23': 'caller',
  '28': 'caller',
  '3D': 'caller',
  '42': 'caller',
});

/**
 * Redis (ioredis): the error type, which the protocol puts first in an error reply (`WRONGTYPE Operation
 * against a key…`). `ERR` is the general type of a bad command; Redis also uses it for "max number of clients
 * reached", which therefore counts neither way unless a table says otherwise.
 */
export const REDIS_ERROR_TYPES: Table = Object.freeze({
  LOADING: 'fault', // the dataset is being loaded
  READONLY: 'fault', // a write reached a replica
  CLUSTERDOWN: 'fault',
  MASTERDOWN: 'fault',
  MISCONF: 'fault', // cannot persist: writes are refused
  NOREPLICAS: 'fault',
  BUSY: 'fault', // a script or function is running too long
  OOM: 'fault',
  TRYAGAIN: 'fault', // a slot is moving
  WRONGTYPE: 'caller',
  ERR: 'caller',
  NOSCRIPT: 'caller',
  NOAUTH: 'caller',
  WRONGPASS: 'caller',
  NOPERM: 'caller',
  EXECABORT: 'caller',
  BUSYKEY: 'caller',
  NOGROUP: 'caller',
  BUSYGROUP: 'caller', // XGROUP CREATE of a group that exists
  NOPROTO: 'caller',
  CROSSSLOT: 'caller',
});

/** Redis (ioredis): errors of the client itself, by name. */
export const REDIS_ERROR_NAMES: Table = Object.freeze({
  MaxRetriesPerRequestError: 'fault', // the connection stayed down for every retry
  ClusterAllFailedError: 'fault',
});

const SQLSTATE = /^[0-9A-Z]{5}$/;

const pgShape = {
  code: (error: object) => stringField(error, 'code'),
  sqlstate: (error: object) => {
    const code = stringField(error, 'code');
    return code !== undefined && SQLSTATE.test(code) ? code : undefined;
  },
};

const mysqlShape = {
  code: (error: object) => stringField(error, 'code'),
  sqlstate: (error: object) => {
    const state = stringField(error, 'sqlState');
    return state !== undefined && SQLSTATE.test(state) && !state.startsWith('HY') ? state : undefined;
  },
};

const REDIS_TYPE = /^[A-Z][A-Z_]{1,31}$/;

const redisShape = {
  code: (error: object) => {
    if (stringField(error, 'name') !== 'ReplyError') return undefined;
    const type = stringField(error, 'message')?.split(' ', 1)[0];
    return type !== undefined && REDIS_TYPE.test(type) ? type : undefined;
  },
  sqlstate: () => undefined,
};

/** Failure rules for node-postgres (`pg`). */
export function pgRules(options?: DriverRulesOptions): DriverRules {
  return driverRules(
    'pg',
    pgShape,
    { codes: PG_SQLSTATES, sqlstateClasses: PG_SQLSTATE_CLASSES, systemCodes: NETWORK_CODES, names: {} },
    options,
  );
}

/** Failure rules for `mysql2`, against MariaDB or MySQL. */
export function mysqlRules(options?: DriverRulesOptions): DriverRules {
  return driverRules(
    'mysql2',
    mysqlShape,
    { codes: MYSQL_CODES, sqlstateClasses: MYSQL_SQLSTATE_CLASSES, systemCodes: NETWORK_CODES, names: {} },
    options,
  );
}

/** Failure rules for `ioredis`. */
export function redisRules(options?: DriverRulesOptions): DriverRules {
  return driverRules(
    'ioredis',
    redisShape,
    { codes: REDIS_ERROR_TYPES, sqlstateClasses: {}, systemCodes: NETWORK_CODES, names: REDIS_ERROR_NAMES },
    options,
  );
}

/** The rules with their default tables, ready to pass as `isFailure: pg.isFailure`. */
export const pg: DriverRules = pgRules();
export const mysql: DriverRules = mysqlRules();
export const redis: DriverRules = redisRules();
