// A BFF that reads orders from PostgreSQL through a circuit breaker (@breaker/drivers), with a cached
// fallback: the last good answer for each order, marked with an `x-fallback` header. A small TCP proxy sits
// between the BFF and the database and cuts it: up, then down (connections refused and reset), then hung
// (nothing comes back), then up again. A shopper's client asks for orders ten times a second throughout,
// and the example prints what the shoppers got each second and every move of the breaker.
//
// It creates a database of its own (breaker_db_bff_<pid>) and drops it at the end. It connects as
// $PGUSER (default root) to 127.0.0.1:5432, or to the server of $DATABASE_URL when that is set.
import net from 'node:net';
import express from 'express';
import pg from 'pg';
import { BreakerOpenError, CallTimeoutError } from '@breaker/core';
import { guardPool } from '@breaker/drivers';

const PHASES = [
  { at: 0, name: 'up', mode: 'pass', note: 'answering' },
  { at: 3_000, name: 'down', mode: 'refuse', note: 'connections refused, open ones reset' },
  { at: 6_000, name: 'hung', mode: 'stall', note: 'connections accepted, nothing comes back' },
  { at: 9_000, name: 'up', mode: 'pass', note: 'answering again' },
];
const RUN_MS = 12_000;
const REQUEST_EVERY_MS = 100;
const ORDERS = [
  [1, 'Ada', 42.5, 'shipped'],
  [2, 'Grace', 19.99, 'packing'],
  [3, 'Linus', 120, 'delivered'],
  [4, 'Margaret', 7.25, 'shipped'],
  [5, 'Dennis', 64, 'packing'],
];

// Where the database server is, and who we log in as.
const url = process.env.DATABASE_URL ? new URL(process.env.DATABASE_URL) : undefined;
const login = {
  host: url?.hostname || '127.0.0.1',
  port: Number(url?.port || 5432),
  user: decodeURIComponent(url?.username ?? '') || (process.env.PGUSER ?? 'root'),
  password: url?.password ? decodeURIComponent(url.password) : undefined,
};
const adminDatabase = url?.pathname.slice(1) || 'postgres';
const database = `breaker_db_bff_${process.pid}`;

let started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(2).padStart(5)}s`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Runs one statement as the administrator, on a connection of its own. */
async function admin(sql) {
  const client = new pg.Client({ ...login, database: adminDatabase });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Our own database, with a few orders. */
async function seed() {
  const client = new pg.Client({ ...login, database });
  await client.connect();
  try {
    await client.query(
      'CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(10, 2), status text)',
    );
    for (const order of ORDERS) await client.query('INSERT INTO orders VALUES ($1, $2, $3, $4)', order);
  } finally {
    await client.end();
  }
}

/**
 * The network between the BFF and the database. In 'pass' it forwards bytes both ways; in 'refuse' it
 * resets every new connection at once (the database is down); in 'stall' it holds every byte, either way,
 * until the mode changes (the database hangs).
 */
async function startFaultProxy(target) {
  let mode = 'pass';
  const pairs = new Set();
  const releases = new Set();

  // Copies `from` to `to`, holding what arrives while stalled.
  const lane = (from, to) => {
    const held = [];
    from.on('data', (chunk) => {
      if (mode !== 'stall') return void to.write(chunk);
      held.push(chunk);
      from.pause();
    });
    const release = () => {
      for (const chunk of held.splice(0)) to.write(chunk);
      from.resume();
    };
    releases.add(release);
    from.on('close', () => releases.delete(release));
  };

  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'refuse') return void client.resetAndDestroy();
    const upstream = net.connect(target);
    upstream.on('error', () => {});
    const pair = { client, upstream };
    pairs.add(pair);
    // When either side goes, the other goes too.
    client.on('close', () => (upstream.destroy(), pairs.delete(pair)));
    upstream.on('close', () => client.destroy());
    lane(client, upstream);
    lane(upstream, client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    host: '127.0.0.1',
    port: server.address().port,
    mode(next) {
      mode = next;
      if (mode !== 'stall') for (const release of releases) release();
    },
    resetAll() {
      for (const { client } of pairs) client.resetAndDestroy();
    },
    close() {
      this.resetAll();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

// The BFF reaches the database only through the proxy, with a breaker around every query.
const proxy = await startFaultProxy({ host: login.host, port: login.port });
const pool = new pg.Pool({
  ...login,
  host: proxy.host,
  port: proxy.port,
  database,
  max: 4,
  connectionTimeoutMillis: 1_000, // a new connection that cannot be made in 1 s fails
});
let lostIdleConnections = 0;
pool.on('error', () => lostIdleConnections++); // an idle connection the network dropped: the pool replaces it
const db = guardPool(pool, {
  name: 'orders-db',
  failureThreshold: 3, // three database failures in a row open the breaker
  timeout: 1_500, // it stays open 1.5 s, then lets one trial query through
  callTimeout: 500, // a query that has not answered in 0.5 s is given up on, and cancelled on the server
  cancelGrace: 1_000, // a connection whose query will not stop within 1 s is thrown away
});
let trips = 0;
db.breaker.on('state-change', ({ from, to, reason }) => {
  if (to === 'open') trips++;
  console.log(`${elapsed()}  breaker ${db.breaker.name}: ${from} → ${to} (${reason})`);
});

// The last good answer for each order, served when the database cannot answer.
const lastGood = new Map();
const app = express();
app.get('/orders/:id', async (req, res) => {
  const id = Number(req.params.id);
  // A shopper who hangs up stops the query too.
  const hangUp = new AbortController();
  res.on('close', () => hangUp.abort());
  try {
    const { rows } = await db.query('SELECT id, customer, total, status FROM orders WHERE id = $1', [id], {
      signal: hangUp.signal,
    });
    if (rows.length === 0) return void res.status(404).json({ error: 'no such order' });
    lastGood.set(id, rows[0]);
    res.json(rows[0]);
  } catch (error) {
    const reason =
      error instanceof BreakerOpenError ? 'open' : error instanceof CallTimeoutError ? 'timeout' : 'error';
    if (lastGood.has(id)) return void res.set('x-fallback', reason).json(lastGood.get(id));
    const retryAfter = error instanceof BreakerOpenError ? Math.ceil(error.retryAfterMs / 1000) : 1;
    res.status(503).set('retry-after', String(retryAfter)).json({ error: 'orders are unavailable' });
  }
});
const http = app.listen(0, '127.0.0.1');
await new Promise((resolve) => http.once('listening', resolve));
const base = `http://127.0.0.1:${http.address().port}`;

// What the shoppers got: this second, and over the whole run.
const fresh = () => ({ ok: 0, open: 0, timeout: 0, error: 0, unanswered: 0 });
let second = fresh();
const total = fresh();
const count = (outcome) => (second[outcome]++, total[outcome]++);
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

async function shop(id) {
  try {
    const res = await fetch(`${base}/orders/${id}`, { signal: AbortSignal.timeout(3_000) });
    await res.arrayBuffer();
    count(res.status !== 200 ? 'unanswered' : (res.headers.get('x-fallback') ?? 'ok'));
  } catch {
    count('unanswered');
  }
}

// One line a second: the database's state, the breaker's, and what the shoppers got.
const WIDTHS = [6, -9, -10, 4, 7, 9, 7, 10]; // negative: left-aligned
const row = (...cells) =>
  cells.map((cell, i) => String(cell)[WIDTHS[i] < 0 ? 'padEnd' : 'padStart'](Math.abs(WIDTHS[i]))).join('  ');

const TICKS = RUN_MS / REQUEST_EVERY_MS;
const inFlight = [];
let phase;
let interrupted = false;
process.once('SIGINT', () => (interrupted = true)); // Ctrl-C ends the run early, and still cleans up
await admin(`CREATE DATABASE ${database}`);
try {
  await seed();
  console.log(
    `BFF ${base}, database ${database} on ${login.host}:${login.port} through proxy :${proxy.port}`,
  );
  const cacheAt = row('', '', '', '').length + 2;
  const cacheWidth = row('', '', '', '', '', '', '').length - cacheAt;
  const label = ' from the cache ';
  console.log(
    ' '.repeat(cacheAt) + label.padStart((cacheWidth + label.length) / 2, '─').padEnd(cacheWidth, '─'),
  );
  console.log(row('time', 'database', 'breaker', 'ok', 'open', 'timeout', 'error', 'no answer'));
  started = Date.now();
  for (let i = 0; i <= TICKS && !interrupted; i++) {
    await sleep(started + i * REQUEST_EVERY_MS - Date.now());
    if (i > 0 && i % 10 === 0) {
      const { ok, open, timeout, error, unanswered } = second;
      console.log(row(elapsed(), phase.name, db.breaker.state, ok, open, timeout, error, unanswered));
      second = fresh();
    }
    if (i === TICKS) break;
    const next = PHASES.findLast((p) => p.at <= i * REQUEST_EVERY_MS);
    if (next !== phase) {
      phase = next;
      proxy.mode(phase.mode);
      if (phase.mode === 'refuse') proxy.resetAll(); // the connections it had are gone as well
      console.log(`${elapsed()}  database ${phase.name}: ${phase.note}`);
    }
    inFlight.push(shop((i % ORDERS.length) + 1));
  }
  await Promise.all(inFlight);
} finally {
  http.closeAllConnections();
  http.close();
  if (interrupted) process.exitCode = 130;
  proxy.mode('pass'); // so that the pool's last connections can say goodbye
  await pool.end();
  await proxy.close();
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

const { counts } = db.breaker.stats();
const served = total.open + total.timeout + total.error;
console.log(`\n${inFlight.length} requests: ${total.ok} answered by the database, ${served} from the cache`);
console.log(`  (breaker open ${total.open}, timed out ${total.timeout}, database error ${total.error}),`);
console.log(`  ${total.unanswered} got no answer.`);
const turnedAway = plural(counts.rejections, 'query', 'queries');
console.log(
  `The breaker opened ${plural(trips, 'time')}, turned ${turnedAway} away without touching the database,`,
);
console.log(`  gave up on ${plural(counts.timeouts, 'query', 'queries')} after 0.5 s;`);
console.log(`  the pool lost ${plural(lostIdleConnections, 'idle connection')}.`);
console.log(`The breaker is ${db.breaker.state} now; database ${database} is dropped.`);
