import type { CircuitBreaker, Clock } from '@breaker/core';
import { fireGuarded, resolveGuard, runHeld, type GuardOptions, type QueryOptions } from './guard.js';
import { mysql } from './tables.js';

/** What the guard needs of a mysql2 connection from `mysql2/promise` (`PoolConnection`). */
export interface MysqlConnectionLike {
  readonly threadId: number | null;
  query(sql: string, values?: unknown): Promise<unknown>;
  release(): void;
  destroy(): void;
  on?(event: 'error', listener: (error: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
}

/** What the guard needs of a `mysql2/promise` pool. */
export interface MysqlPoolLike<C extends MysqlConnectionLike = MysqlConnectionLike> {
  getConnection(): Promise<C>;
  query(sql: string, values?: unknown): Promise<unknown>;
}

/** The result of `connection.query(sql, values)`: mysql2's `[rows, fields]`. */
export type MysqlResultOf<C> = C extends { query(sql: string, values?: unknown): Promise<infer R> }
  ? R
  : unknown;

export interface GuardedMysqlPool<C extends MysqlConnectionLike> {
  /** Runs one query through the breaker, on a connection of the pool; killed on the server if abandoned. */
  query(sql: string, values?: unknown, options?: QueryOptions): Promise<MysqlResultOf<C>>;
  readonly breaker: CircuitBreaker;
  /** The pool, as given. */
  readonly pool: MysqlPoolLike<C>;
}

const KILL_TIMEOUT = 2_000;

/**
 * Guards a `mysql2/promise` pool (MariaDB or MySQL) with a breaker. Each `query` takes a connection, runs the
 * query with the breaker's rules (`mysql.isFailure` by default) and gives the connection back. A query the
 * breaker gave up on, or whose caller aborted, is stopped with `KILL QUERY <thread id>`, sent through the pool
 * (so it needs a free connection, or room for one); a connection whose query has not ended `cancelGrace` ms
 * later is destroyed instead of going back to the pool.
 */
export function guardMysql<C extends MysqlConnectionLike>(
  pool: MysqlPoolLike<C>,
  options: GuardOptions,
): GuardedMysqlPool<C> {
  if (typeof pool !== 'object' || pool === null || typeof pool.getConnection !== 'function') {
    throw new TypeError(
      'guardMysql(pool, options): pool must be a mysql2/promise Pool (with getConnection()).',
    );
  }
  const guard = resolveGuard('mysql2', mysql, options);
  const { breaker, clock } = guard;

  function kill(threadId: number | null): void {
    if (!Number.isInteger(threadId)) return;
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const attempt = pool.query(`KILL QUERY ${threadId as number}`);
    const timeout = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, KILL_TIMEOUT, { unref: true });
    });
    // A KILL that fails or waits too long is left to the grace period.
    void Promise.race([attempt, timeout])
      .catch(() => {})
      .finally(() => {
        if (timer !== undefined) clock.clearTimeout(timer);
      });
  }

  function run(sql: string, values: unknown, signal: AbortSignal | undefined): Promise<MysqlResultOf<C>> {
    return pool.getConnection().then((connection) => onConnection(connection, sql, values, signal));
  }

  function onConnection(
    connection: C,
    sql: string,
    values: unknown,
    signal: AbortSignal | undefined,
  ): Promise<MysqlResultOf<C>> {
    if (signal?.aborted === true) {
      connection.release();
      return Promise.reject(signal.reason as Error);
    }
    return runHeld(
      {
        connection,
        start: () => connection.query(sql, values) as Promise<MysqlResultOf<C>>,
        cancel: () => kill(connection.threadId),
        end: (error, lost, cancelled) => {
          // A fatal error (the connection is gone) must not go back to the pool, nor a connection a KILL
          // QUERY was sent for: the KILL may still be queued, and would stop the next user's query.
          const fatal =
            typeof error === 'object' && error !== null && (error as { fatal?: unknown }).fatal === true;
          if (fatal || lost || cancelled) destroy(connection);
          else connection.release();
        },
        destroy: () => destroy(connection),
      },
      signal,
      guard,
    );
  }

  return Object.freeze({
    breaker,
    pool,
    query(sql: string, values?: unknown, queryOptions?: QueryOptions): Promise<MysqlResultOf<C>> {
      return fireGuarded(breaker, queryOptions?.signal, (signal) => run(sql, values, signal));
    },
  });
}

/**
 * Destroys a connection at once. mysql2's `destroy()` only ends the socket gracefully, which a stalled network
 * would hold open for minutes; the socket underneath is destroyed too.
 */
function destroy(connection: MysqlConnectionLike): void {
  connection.destroy();
  const stream = (connection as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
  stream?.destroy?.();
}
