export {
  NETWORK_CODES,
  driverRules,
  type DriverRules,
  type DriverRulesOptions,
  type ErrorShape,
  type RuleTables,
  type Verdict,
} from './rules.js';
export {
  MYSQL_CODES,
  MYSQL_SQLSTATE_CLASSES,
  PG_SQLSTATES,
  PG_SQLSTATE_CLASSES,
  REDIS_ERROR_NAMES,
  REDIS_ERROR_TYPES,
  mysql,
  mysqlRules,
  pg,
  pgRules,
  redis,
  redisRules,
} from './tables.js';
export { DEFAULT_CANCEL_GRACE, type GuardOptions, type QueryOptions } from './guard.js';
export { guardPg, type GuardedPgPool, type PgClientLike, type PgPoolLike, type PgQueryResult } from './pg.js';
export {
  guardMysql,
  type GuardedMysqlPool,
  type MysqlConnectionLike,
  type MysqlPoolLike,
  type MysqlResultOf,
} from './mysql.js';
export { guardPool } from './guardPool.js';
