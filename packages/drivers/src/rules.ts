import { InvalidOptionError } from '@breaker/core';

/**
 * What an error says about the database:
 * - `fault`: the database or the way to it is broken (refused, reset, shut down, out of connections, timed
 *   out). It counts against the breaker.
 * - `caller`: the call itself was wrong (a constraint violation, a syntax or permission error, bad data). The
 *   database answered; the error counts neither way.
 * - `contention`: transactions of the application got in each other's way (a serialization failure, a
 *   deadlock, a lock wait timeout). The database is healthy and a retry is the remedy; by default it counts
 *   neither way (`contention: 'failure'` counts it).
 */
export type Verdict = 'fault' | 'caller' | 'contention';

/** Tables of verdicts, looked up in the order of the fields below; the first that names the error decides. */
export interface RuleTables {
  /** By the driver's or the server's error code (`ER_DUP_ENTRY`, a full SQLSTATE such as `57P01`). */
  readonly codes: Readonly<Record<string, Verdict>>;
  /** By the first two characters of a SQLSTATE (its class: `08` connection exception). */
  readonly sqlstateClasses: Readonly<Record<string, Verdict>>;
  /** By Node.js's system error code (`ECONNREFUSED`), on the error or on its `cause`. */
  readonly systemCodes: Readonly<Record<string, Verdict>>;
  /** By the error's `name` (`MaxRetriesPerRequestError`). */
  readonly names: Readonly<Record<string, Verdict>>;
}

export interface DriverRulesOptions {
  /** Entries added to the tables, or replacing theirs. */
  readonly codes?: Readonly<Record<string, Verdict>>;
  readonly sqlstateClasses?: Readonly<Record<string, Verdict>>;
  readonly systemCodes?: Readonly<Record<string, Verdict>>;
  readonly names?: Readonly<Record<string, Verdict>>;
  /** Whether contention counts as a failure or neither way. Default `'ignore'`. */
  readonly contention?: 'ignore' | 'failure';
}

/** A driver's failure rules, ready to pass as a breaker's `isFailure`. */
export interface DriverRules {
  readonly driver: string;
  readonly tables: RuleTables;
  /** The verdict of the tables, or `undefined` when none names the error. */
  classify(error: unknown): Verdict | undefined;
  /**
   * Whether the error counts against the breaker: a `fault` does, a `caller` error does not, `contention` as
   * the `contention` option says, and an error no table names does (Breaker's default: every error counts).
   */
  isFailure(error: unknown): boolean;
  /** The same rules with entries added or replaced. */
  extend(options: DriverRulesOptions): DriverRules;
}

/** How a driver's error shows its codes. */
export interface ErrorShape {
  /** The driver's or the server's code, when the error has one. */
  code(error: object): string | undefined;
  /** The SQLSTATE, when the error has one. */
  sqlstate(error: object): string | undefined;
}

const VERDICTS: ReadonlySet<unknown> = new Set<Verdict>(['fault', 'caller', 'contention']);
const OPTION_KEYS = new Set(['codes', 'sqlstateClasses', 'systemCodes', 'names', 'contention']);

function invalid(driver: string, option: string, detail: string): InvalidOptionError {
  return new InvalidOptionError(option, `Invalid ${driver} rules option "${option}": ${detail}`);
}

function checkTable(driver: string, option: string, table: unknown): Readonly<Record<string, Verdict>> {
  if (table === undefined) return {};
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw invalid(driver, option, `expected an object of verdicts; received ${String(table)}.`);
  }
  for (const [key, verdict] of Object.entries(table)) {
    if (!VERDICTS.has(verdict)) {
      const received = typeof verdict === 'string' ? `'${verdict}'` : String(verdict);
      throw invalid(
        driver,
        `${option}.${key}`,
        `expected 'fault', 'caller' or 'contention'; received ${received}.`,
      );
    }
  }
  return table as Readonly<Record<string, Verdict>>;
}

/** A string property of an object, if it has one. */
export function stringField(value: object, field: string): string | undefined {
  const found: unknown = (value as Record<string, unknown>)[field];
  return typeof found === 'string' && found !== '' ? found : undefined;
}

function systemCode(error: object): string | undefined {
  const own = stringField(error, 'code');
  if (own !== undefined && own.startsWith('E') && own === own.toUpperCase() && !own.startsWith('ER_'))
    return own;
  const cause: unknown = (error as { cause?: unknown }).cause;
  return typeof cause === 'object' && cause !== null ? systemCode(cause) : undefined;
}

/** Builds failure rules from tables; `@breaker/drivers` uses it for its own, and users may for other drivers. */
export function driverRules(
  driver: string,
  shape: ErrorShape,
  base: RuleTables,
  options: DriverRulesOptions = {},
): DriverRules {
  if (typeof options !== 'object' || options === null) {
    throw invalid(driver, 'options', `expected an object; received ${String(options)}.`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw invalid(driver, key, `unknown option; expected one of ${[...OPTION_KEYS].join(', ')}.`);
    }
  }
  const contention = options.contention ?? 'ignore';
  if (contention !== 'ignore' && contention !== 'failure') {
    throw invalid(driver, 'contention', `expected 'ignore' or 'failure'; received ${String(contention)}.`);
  }
  const tables: RuleTables = Object.freeze({
    codes: Object.freeze({ ...base.codes, ...checkTable(driver, 'codes', options.codes) }),
    sqlstateClasses: Object.freeze({
      ...base.sqlstateClasses,
      ...checkTable(driver, 'sqlstateClasses', options.sqlstateClasses),
    }),
    systemCodes: Object.freeze({
      ...base.systemCodes,
      ...checkTable(driver, 'systemCodes', options.systemCodes),
    }),
    names: Object.freeze({ ...base.names, ...checkTable(driver, 'names', options.names) }),
  });
  const lookup = (table: Readonly<Record<string, Verdict>>, key: string | undefined): Verdict | undefined =>
    key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;

  function classify(error: unknown): Verdict | undefined {
    if (typeof error !== 'object' || error === null) return undefined;
    try {
      const sqlstate = shape.sqlstate(error);
      return (
        lookup(tables.codes, shape.code(error)) ??
        lookup(tables.codes, sqlstate) ??
        lookup(tables.sqlstateClasses, sqlstate?.slice(0, 2)) ??
        lookup(tables.systemCodes, systemCode(error)) ??
        lookup(tables.names, stringField(error, 'name'))
      );
    } catch {
      // A getter that throws (a proxy, a hostile object) names nothing.
      return undefined;
    }
  }

  return Object.freeze({
    driver,
    tables,
    classify,
    isFailure(error: unknown): boolean {
      const verdict = classify(error);
      if (verdict === 'caller') return false;
      if (verdict === 'contention') return contention === 'failure';
      return true;
    },
    extend(more: DriverRulesOptions): DriverRules {
      const merged = (field: keyof RuleTables) => ({
        ...tables[field],
        ...checkTable(driver, field, more[field]),
      });
      return driverRules(
        driver,
        shape,
        {
          codes: merged('codes'),
          sqlstateClasses: merged('sqlstateClasses'),
          systemCodes: merged('systemCodes'),
          names: merged('names'),
        },
        { contention: more.contention ?? contention },
      );
    },
  });
}

/** Node.js system errors on the way to any database: the connection could not be made or was lost. */
export const NETWORK_CODES: Readonly<Record<string, Verdict>> = Object.freeze({
  ECONNREFUSED: 'fault',
  ECONNRESET: 'fault',
  ECONNABORTED: 'fault',
  EPIPE: 'fault',
  ETIMEDOUT: 'fault',
  EHOSTUNREACH: 'fault',
  EHOSTDOWN: 'fault',
  ENETUNREACH: 'fault',
  ENETDOWN: 'fault',
  EAI_AGAIN: 'fault',
  ENOTFOUND: 'fault',
  ENOTCONN: 'fault',
  ESHUTDOWN: 'fault',
  ENOENT: 'fault', // a Unix socket that is not there
});
