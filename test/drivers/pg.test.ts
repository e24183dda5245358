// @breaker/drivers against the PostgreSQL of this machine (127.0.0.1:5432), in a database of the test's own
// that it drops at the end, with faults put between the driver and the server by a TCP proxy.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { BreakerOpenError, BreakerRegistry, CallTimeoutError } from '@breaker/core';
import { collectMetrics } from '@breaker/prometheus';
import { guardPool, pg as pgRules } from '@breaker/drivers';
import { startFaultProxy, type FaultProxy } from '../harness/faultProxy.js';
import { sleep, until } from './wait.js';

// The machine's PostgreSQL trusts local connections of the role named after the user (root on this machine kind).
const user = process.env.PGUSER ?? 'root';
const database = `breaker_drivers_${process.pid}_${Date.now().toString(36)}`;
const admin = new pg.Pool({ host: '127.0.0.1', port: 5432, user, database: 'postgres', max: 2 });
let proxy: FaultProxy;
const pools: pg.Pool[] = [];

/** Backends of the test's database, as the server sees them, other than the admin pool's. */
async function backends(filter = ''): Promise<{ pid: number; query: string; state: string }[]> {
  const { rows } = await admin.query<{ pid: number; query: string; state: string }>(
    `SELECT pid, query, state FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ${filter}`,
    [database],
  );
  return rows;
}

function newPool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({
    host: proxy.host,
    port: proxy.port,
    user,
    database,
    max: 4,
    connectionTimeoutMillis: 1_000,
    ...options,
  });
  pool.on('error', () => {}); // an idle client the proxy resets: the pool drops it
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  await admin.query(`CREATE DATABASE ${database}`);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: 5432 });
  const setup = new pg.Client({ host: '127.0.0.1', port: 5432, user, database });
  await setup.connect();
  await setup.query('CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE NOT NULL)');
  await setup.query(`INSERT INTO accounts VALUES (1, 'ada@example.com')`);
  await setup.end();
});

afterEach(async () => {
  proxy.mode('pass');
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
  // No connection outlives its pool.
  expect(await until(async () => (await backends()).length === 0)).toBe(true);
});

afterAll(async () => {
  await proxy?.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

describe('@breaker/drivers with node-postgres', () => {
  it('never trips on a storm of constraint violations, syntax errors and bad data', async () => {
    const db = guardPool(newPool(), { name: 'accounts', failureThreshold: 3 });
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const statement = [
        () => db.query('INSERT INTO accounts VALUES ($1, $2)', [100 + i, 'ada@example.com']), // 23505
        () => db.query('SELEC 1'), // 42601
        () => db.query('SELECT $1::int', ['not a number']), // 22P02
      ][i % 3]!;
      await statement().catch((error: { code?: string }) => outcomes.push(error.code ?? 'none'));
    }
    expect(new Set(outcomes)).toEqual(new Set(['23505', '42601', '22P02']));
    expect(outcomes).toHaveLength(30);
    expect(db.breaker.state).toBe('closed');
    expect(db.breaker.stats().counts).toMatchObject({ failures: 0, ignored: 30 });
    expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
  });

  it('trips on an outage at the threshold, fails fast without the pool, and recovers after the open time', async () => {
    const db = guardPool(newPool(), { name: 'outage', failureThreshold: 3, timeout: 400 });
    await db.query('SELECT 1');
    proxy.mode('refuse');
    proxy.resetAll(); // the pool's idle client is gone with the outage
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) errors.push(await db.query('SELECT 1').catch((error: unknown) => error));
    expect(
      errors.every((error) => pgRules.classify(error) === 'fault' || pgRules.classify(error) === undefined),
    ).toBe(true);
    expect(db.breaker.state).toBe('open');
    const accepted = proxy.accepted;
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(BreakerOpenError);
    expect(proxy.accepted).toBe(accepted); // failing fast: not a connection tried

    proxy.mode('pass');
    await sleep(450);
    expect((await db.query<{ ok: boolean }>('SELECT true AS ok')).rows).toEqual([{ ok: true }]);
    expect(db.breaker.state).toBe('closed');
  });

  it('counts a connection reset mid-query and a terminated backend as failures, and drops those clients', async () => {
    const pool = newPool();
    const db = guardPool(pool, { name: 'reset', failureThreshold: 10 });
    await db.query('SELECT 1');
    proxy.mode('reset');
    await expect(db.query('SELECT 1')).rejects.toThrow();
    proxy.mode('pass');
    expect(db.breaker.stats().counts.failures).toBe(1);

    // pg_terminate_backend: the server ends the backend while a query of the guard runs on it.
    // Its rejection is caught at once: it may come while the test still awaits the terminate.
    const running = db.query('SELECT pg_sleep(5)').then(
      () => undefined,
      (error: unknown) => error,
    );
    const sleepingBackends = () => backends(`AND query LIKE '%pg_sleep(5)%' AND state = 'active'`);
    expect(await until(async () => (await sleepingBackends()).length === 1)).toBe(true);
    const [backend] = await sleepingBackends();
    await admin.query('SELECT pg_terminate_backend($1)', [backend!.pid]);
    const terminated = await running;
    expect(terminated).toMatchObject({ code: '57P01' });
    expect(pgRules.classify(terminated)).toBe('fault');
    expect(db.breaker.stats().counts.failures).toBe(2);
    expect((await db.query<{ n: number }>('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    expect(pool.totalCount).toBe((await backends()).length);
  });

  it('cancels a query on the server at callTimeout, and the client goes back to the pool', async () => {
    const pool = newPool({ max: 1 });
    const db = guardPool(pool, { name: 'slow', callTimeout: 300 });
    const started = Date.now();
    await expect(db.query('SELECT pg_sleep(30)')).rejects.toBeInstanceOf(CallTimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    // The server shows the query gone within moments, not 30 s later.
    expect(
      await until(
        async () => (await backends(`AND query LIKE '%pg_sleep(30)%' AND state = 'active'`)).length === 0,
        3_000,
      ),
    ).toBe(true);
    // The one client of the pool is usable again.
    expect((await db.query<{ n: number }>('SELECT 3 AS n')).rows).toEqual([{ n: 3 }]);
    expect(db.breaker.stats().counts).toMatchObject({ timeouts: 1, failures: 1, successes: 1 });
  });

  it('cancels a query whose caller hung up, counting it neither way', async () => {
    const db = guardPool(newPool({ max: 1 }), { name: 'caller-abort' });
    const controller = new AbortController();
    const call = db.query('SELECT pg_sleep(30)', [], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('client hung up')), 200);
    await expect(call).rejects.toThrow('client hung up');
    expect(
      await until(
        async () => (await backends(`AND query LIKE '%pg_sleep(30)%' AND state = 'active'`)).length === 0,
        3_000,
      ),
    ).toBe(true);
    expect(db.breaker.stats().counts).toMatchObject({ failures: 0, ignored: 1 });
  });

  it('fails a query slowed past callTimeout and cancels it, then serves the next at full speed', async () => {
    const db = guardPool(newPool({ max: 2 }), { name: 'slowed', callTimeout: 300, failureThreshold: 5 });
    await db.query('SELECT 1');
    proxy.mode('slow', { delayMs: 400 });
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(CallTimeoutError);
    proxy.mode('pass');
    expect((await db.query<{ n: number }>('SELECT 6 AS n')).rows).toEqual([{ n: 6 }]);
    expect(db.breaker.stats().counts).toMatchObject({ successes: 2, failures: 1, timeouts: 1 });
    expect(db.breaker.state).toBe('closed');
  });

  it('destroys a client whose query never ends after the cancel (a stalled network), without leaking it', async () => {
    const pool = newPool({ max: 1 });
    const db = guardPool(pool, { name: 'stalled', callTimeout: 200, cancelGrace: 300 });
    await db.query('SELECT 1');
    proxy.mode('stall');
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(CallTimeoutError);
    await sleep(400); // the grace period ends: the client is destroyed, not given back
    expect(await until(async () => pool.totalCount === 0, 2_000)).toBe(true);
    proxy.mode('pass');
    expect((await db.query<{ n: number }>('SELECT 4 AS n')).rows).toEqual([{ n: 4 }]);
  });

  it('takes its breaker from a registry, where the collectors see it like any other', async () => {
    const registry = new BreakerRegistry();
    const register = new Registry();
    const metrics = collectMetrics(registry, { register });
    const db = guardPool(newPool(), { name: 'orders-db', registry, failureThreshold: 2 });
    expect(registry.get('orders-db')).toBe(db.breaker);
    await db.query('SELECT 1');
    await db.query('SELEC 1').catch(() => {});
    const text = await register.metrics();
    expect(text).toMatch(/breaker_calls_total\{breaker="orders-db",outcome="success"\} 1/);
    expect(text).toMatch(/breaker_calls_total\{breaker="orders-db",outcome="ignored"\} 1/);
    expect(text).toMatch(/breaker_state\{breaker="orders-db",state="closed"\} 1/);
    metrics.stop();
  });
});
