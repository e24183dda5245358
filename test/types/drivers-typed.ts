// Compiled by `pnpm typecheck`, never run: the pool guards take the drivers' own pools, with no type arguments
// and no casts, and give back the drivers' own result types.
import pg from 'pg';
import mysql from 'mysql2/promise';
import { BreakerRegistry } from '@breaker/core';
import { guardMysql, guardPg, guardPool, pg as pgRules } from '@breaker/drivers';

const pool = new pg.Pool({ connectionTimeoutMillis: 1_000 });
const db = guardPool(pool, { name: 'db', callTimeout: 2_000, registry: new BreakerRegistry() });
export async function rows(): Promise<number> {
  const result = await db.query<{ n: number }>('SELECT $1::int AS n', [1]);
  const untyped: unknown = (await db.query('SELECT 1')).rows[0]?.['?column?'];
  return (result.rows[0]?.n ?? 0) + (untyped === 1 ? 1 : 0) + (result.rowCount ?? 0);
}
guardPg(pool, { breaker: db.breaker });

const maria = mysql.createPool({ host: '127.0.0.1' });
const guarded = guardPool(maria, { name: 'maria', failureThreshold: 3 });
export async function mariaRows(): Promise<unknown[]> {
  const [found] = await guarded.query('SELECT ? AS n', [1]);
  return Array.isArray(found) ? found : [];
}
guardMysql(maria, { name: 'maria-2', isFailure: pgRules.isFailure });
