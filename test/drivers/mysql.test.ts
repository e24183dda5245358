// @breaker/drivers against the MariaDB of this machine (127.0.0.1:3306), in a database of the test's own that
// it drops at the end, with faults put between the driver and the server by a TCP proxy.
import mysql from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerOpenError, CallTimeoutError } from '@breaker/core';
import { guardPool } from '@breaker/drivers';
import { startFaultProxy, type FaultProxy } from '../harness/faultProxy.js';
import { sleep, until } from './wait.js';

// The machine's MariaDB lets root in from 127.0.0.1 without a password.
const user = process.env.MYSQL_USER ?? 'root';
const password = process.env.MYSQL_PASSWORD ?? '';
const database = `breaker_drivers_${process.pid}_${Date.now().toString(36)}`;
const admin = mysql.createPool({ host: '127.0.0.1', port: 3306, user, password, connectionLimit: 2 });
admin.on('connection', (connection) => connection.on('error', () => {}));
let proxy: FaultProxy;
const pools: mysql.Pool[] = [];

/** Connections to the test's database, as the server's process list shows them. */
async function processes(): Promise<{ ID: number; INFO: string | null; COMMAND: string }[]> {
  const [rows] = await admin.query(
    'SELECT ID, INFO, COMMAND FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
    [database],
  );
  return rows as { ID: number; INFO: string | null; COMMAND: string }[];
}

const sleeping = async (seconds = 30) =>
  (await processes()).filter((row) => row.INFO?.includes(`SLEEP(${seconds})`) === true);

function newPool(options: mysql.PoolOptions = {}): mysql.Pool {
  const pool = mysql.createPool({
    host: proxy.host,
    port: proxy.port,
    user,
    password,
    database,
    connectionLimit: 4,
    connectTimeout: 1_000,
    ...options,
  });
  pool.on('connection', (connection) => connection.on('error', () => {}));
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.query(
    `CREATE TABLE ${database}.accounts (id int PRIMARY KEY, email varchar(100) UNIQUE NOT NULL)`,
  );
  await admin.query(`INSERT INTO ${database}.accounts VALUES (1, 'ada@example.com')`);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: 3306 });
});

afterEach(async () => {
  proxy.mode('pass');
  await Promise.all(pools.splice(0).map((pool) => pool.end().catch(() => {})));
  // No connection outlives its pool.
  expect(await until(async () => (await processes()).length === 0)).toBe(true);
});

afterAll(async () => {
  await proxy?.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
});

describe('@breaker/drivers with mysql2 and MariaDB', () => {
  it('never trips on a storm of duplicate keys, syntax errors and missing tables', async () => {
    const db = guardPool(newPool(), { name: 'accounts', failureThreshold: 3 });
    const codes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const statement = [
        () => db.query('INSERT INTO accounts VALUES (?, ?)', [100 + i, 'ada@example.com']),
        () => db.query('SELEC 1'),
        () => db.query('SELECT * FROM no_such_table'),
      ][i % 3]!;
      await statement().catch((error: { code?: string }) => codes.push(error.code ?? 'none'));
    }
    expect(new Set(codes)).toEqual(new Set(['ER_DUP_ENTRY', 'ER_PARSE_ERROR', 'ER_NO_SUCH_TABLE']));
    expect(db.breaker.state).toBe('closed');
    expect(db.breaker.stats().counts).toMatchObject({ failures: 0, ignored: 30 });
    const [rows] = await db.query('SELECT 1 AS n');
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('trips on an outage at the threshold, fails fast without the pool, and recovers after the open time', async () => {
    const db = guardPool(newPool(), { name: 'outage', failureThreshold: 3, timeout: 400 });
    await db.query('SELECT 1');
    proxy.mode('refuse');
    proxy.resetAll();
    for (let i = 0; i < 3; i++) await db.query('SELECT 1').catch(() => {});
    expect(db.breaker.state).toBe('open');
    const accepted = proxy.accepted;
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(BreakerOpenError);
    expect(proxy.accepted).toBe(accepted);

    proxy.mode('pass');
    await sleep(450);
    const [rows] = await db.query('SELECT 2 AS n');
    expect(rows).toEqual([{ n: 2 }]);
    expect(db.breaker.state).toBe('closed');
  });

  it('counts a reset mid-query and a KILLed connection as failures, and drops those connections', async () => {
    const db = guardPool(newPool({ connectionLimit: 1 }), { name: 'reset', failureThreshold: 10 });
    await db.query('SELECT 1');
    proxy.mode('reset');
    await expect(db.query('SELECT 1')).rejects.toThrow();
    proxy.mode('pass');
    expect(db.breaker.stats().counts.failures).toBe(1);

    // KILL: the server ends the connection while a query of the guard runs on it.
    // Its rejection is caught at once: it may come while the test still awaits the KILL.
    const running = db.query('SELECT SLEEP(5)').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(await until(async () => (await sleeping(5)).length === 1)).toBe(true);
    const [connection] = await sleeping(5);
    await admin.query(`KILL ${connection!.ID}`);
    expect(await running).toBeInstanceOf(Error);
    expect(db.breaker.stats().counts.failures).toBe(2);
    const [rows] = await db.query('SELECT 3 AS n');
    expect(rows).toEqual([{ n: 3 }]);
  });

  it('stops a query on the server with KILL QUERY at callTimeout', async () => {
    const db = guardPool(newPool({ connectionLimit: 2 }), { name: 'slow', callTimeout: 300 });
    const started = Date.now();
    await expect(db.query('SELECT SLEEP(30)')).rejects.toBeInstanceOf(CallTimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await until(async () => (await sleeping()).length === 0, 3_000)).toBe(true);
    const [rows] = await db.query('SELECT 4 AS n');
    expect(rows).toEqual([{ n: 4 }]);
    expect(db.breaker.stats().counts).toMatchObject({ timeouts: 1, failures: 1, successes: 1 });
  });

  it('stops a query whose caller hung up, counting it neither way', async () => {
    const db = guardPool(newPool({ connectionLimit: 2 }), { name: 'caller-abort' });
    const controller = new AbortController();
    const call = db.query('SELECT SLEEP(30)', [], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('client hung up')), 200);
    await expect(call).rejects.toThrow('client hung up');
    expect(await until(async () => (await sleeping()).length === 0, 3_000)).toBe(true);
    expect(db.breaker.stats().counts).toMatchObject({ failures: 0, ignored: 1 });
  });

  it('destroys a connection whose query never ends after the KILL (a stalled network), without leaking it', async () => {
    const pool = newPool({ connectionLimit: 2 });
    // What the guard does with each connection it takes: given back, or destroyed.
    const fates: string[] = [];
    const getConnection = pool.getConnection.bind(pool);
    pool.getConnection = async () => {
      const connection = await getConnection();
      const { release, destroy } = connection;
      connection.release = () => (fates.push('released'), release.call(connection));
      connection.destroy = () => (fates.push('destroyed'), destroy.call(connection));
      return connection;
    };
    const db = guardPool(pool, { name: 'stalled', callTimeout: 200, cancelGrace: 300 });
    await db.query('SELECT 1');
    proxy.mode('stall');
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(CallTimeoutError);
    expect(fates).toEqual(['released']);
    await sleep(500);
    expect(fates).toEqual(['released', 'destroyed']);
    proxy.mode('pass');
    const [rows] = await db.query('SELECT 5 AS n');
    expect(rows).toEqual([{ n: 5 }]);
    expect(fates).toEqual(['released', 'destroyed', 'released']);
  });
});
