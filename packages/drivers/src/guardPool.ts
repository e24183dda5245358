import type { GuardOptions } from './guard.js';
import { guardMysql, type GuardedMysqlPool, type MysqlConnectionLike, type MysqlPoolLike } from './mysql.js';
import { guardPg, type GuardedPgPool, type PgClientLike, type PgPoolLike } from './pg.js';

/**
 * Guards a node-postgres pool (`pg.Pool`) or a `mysql2/promise` pool with a breaker, telling them apart by
 * their methods: `getConnection()` is mysql2's, `connect()` node-postgres's.
 */
export function guardPool<C extends MysqlConnectionLike>(
  pool: MysqlPoolLike<C>,
  options: GuardOptions,
): GuardedMysqlPool<C>;
export function guardPool<C extends PgClientLike>(
  pool: PgPoolLike<C>,
  options: GuardOptions,
): GuardedPgPool<C>;
export function guardPool(
  pool: MysqlPoolLike | PgPoolLike,
  options: GuardOptions,
): GuardedMysqlPool<MysqlConnectionLike> | GuardedPgPool<PgClientLike> {
  if (
    typeof pool === 'object' &&
    pool !== null &&
    typeof (pool as MysqlPoolLike).getConnection === 'function'
  ) {
    return guardMysql(pool as MysqlPoolLike, options);
  }
  if (typeof pool === 'object' && pool !== null && typeof (pool as PgPoolLike).connect === 'function') {
    return guardPg(pool as PgPoolLike, options);
  }
  throw new TypeError('guardPool(pool, options): pool must be a pg Pool or a mysql2/promise Pool.');
}
