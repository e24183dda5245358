// The cost of sharing breakers through Redis: a closed call with a RedisStore against the same call
// with a MemoryStore, rounds interleaved; and how long a trip takes to reach replicas in other
// processes. Starts its own redis-server on a free port (set BENCH_REDIS_URL to use another Redis).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { CircuitBreaker, MemoryStore } from '@breaker/core';
import { RedisStore } from '@breaker/redis';
import { envInt, max, median, min, ns, progress, ratio, runIfMain } from './lib.mjs';

const ROUNDS = envInt('BENCH_FLEET_ROUNDS', 15);
const CALLS = 20_000;
const TRIPS = envInt('BENCH_FLEET_TRIPS', 60);
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis() {
  if (process.env.BENCH_REDIS_URL) return { url: process.env.BENCH_REDIS_URL, stop: () => {} };
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    await wait(20);
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

const succeed = async () => 1;

async function timeCalls(breaker) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await breaker.fire(succeed);
  return Number(process.hrtime.bigint() - started) / CALLS;
}

/** A replica in its own process that prints the wall time at which each round's trip reaches it. */
const WATCHER = `
import { CircuitBreaker } from '@breaker/core';
import { RedisStore } from '@breaker/redis';
const [url, name] = process.argv.slice(1);
const store = new RedisStore({ url });
const breaker = new CircuitBreaker({ name, store, failureThreshold: 1, timeout: 600_000 });
const stop = setTimeout(() => process.exit(2), 120_000);
while (!store.connected) await new Promise((r) => setTimeout(r, 5));
console.log('ready');
breaker.on('open', () => console.log('open ' + (performance.timeOrigin + performance.now())));
process.stdin.on('data', () => {});
process.stdin.on('end', async () => { clearTimeout(stop); breaker.dispose(); await store.close(); });
`;

async function propagation(url) {
  const watchers = [0, 1].map(() => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WATCHER, url, 'bench-propagation'], {
      cwd: new URL('.', import.meta.url).pathname,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = [];
    child.stdout.setEncoding('utf8');
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop();
      lines.push(...parts);
    });
    return { child, lines };
  });
  for (let i = 0; i < 500 && !watchers.every((w) => w.lines.includes('ready')); i++) await wait(10);
  const store = new RedisStore({ url });
  while (!store.connected) await wait(5);
  const tripper = new CircuitBreaker({
    name: 'bench-propagation',
    store,
    failureThreshold: 1,
    timeout: 600_000,
  });
  const latencies = [];
  for (let trip = 0; trip < TRIPS; trip++) {
    const seen = watchers.map((w) => w.lines.filter((line) => line.startsWith('open ')).length);
    await wait(20);
    const at = performance.timeOrigin + performance.now();
    await tripper.fire(() => Promise.reject(new Error('down'))).catch(() => {});
    for (
      let i = 0;
      i < 200 && watchers.some((w, k) => w.lines.filter((l) => l.startsWith('open ')).length === seen[k]);
      i++
    ) {
      await wait(1);
    }
    for (const [k, w] of watchers.entries()) {
      const opens = w.lines.filter((line) => line.startsWith('open '));
      if (opens.length > seen[k]) latencies.push(Number(opens.at(-1).slice(5)) - at);
    }
    tripper.reset();
    await wait(20);
  }
  tripper.dispose();
  await store.close();
  for (const { child } of watchers) child.stdin.end();
  await wait(200);
  return latencies;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function run() {
  const redis = await startRedis();
  try {
    const memory = new CircuitBreaker({ name: 'bench-memory', store: new MemoryStore() });
    const redisStore = new RedisStore({ url: redis.url });
    while (!redisStore.connected) await wait(5);
    const shared = new CircuitBreaker({ name: 'bench-redis', store: redisStore });
    const local = new CircuitBreaker({ name: 'bench-local' });
    const samples = { local: [], memory: [], redis: [] };
    progress(`closed calls: ${ROUNDS} rounds of ${CALLS} calls per store`);
    for (let round = 0; round < ROUNDS + 2; round++) {
      // The order turns each round, so that no subject always runs after the same one.
      const subjects = [local, memory, shared];
      const results = [];
      for (let k = 0; k < 3; k++) {
        const index = (round + k) % 3;
        results[index] = await timeCalls(subjects[index]);
      }
      if (round < 2) continue;
      samples.local.push(results[0]);
      samples.memory.push(results[1]);
      samples.redis.push(results[2]);
    }
    const base = median(samples.memory);
    const rows = [
      [
        'no store',
        ns(median(samples.local)),
        ns(min(samples.local)),
        ns(max(samples.local)),
        ratio(median(samples.local) / base),
      ],
      ['MemoryStore', ns(base), ns(min(samples.memory)), ns(max(samples.memory)), ratio(1)],
      [
        'RedisStore',
        ns(median(samples.redis)),
        ns(min(samples.redis)),
        ns(max(samples.redis)),
        ratio(median(samples.redis) / base),
      ],
    ];
    memory.dispose();
    shared.dispose();
    local.dispose();
    await redisStore.close();
    progress(`propagation: ${TRIPS} trips to 2 replicas in other processes`);
    const latencies = await propagation(redis.url);
    const overhead = median(samples.redis) / base;
    const p99 = percentile(latencies, 99);
    return {
      targets: [
        {
          target: 'closed call with RedisStore ≤ 1.2× MemoryStore',
          figure: ratio(overhead),
          met: overhead <= 1.2,
        },
        {
          target: 'a trip reaches other processes in < 100 ms (p99)',
          figure: `${p99.toFixed(1)} ms`,
          met: p99 < 100,
        },
      ],
      title: 'Fleet: the Redis store (fleet.mjs)',
      intro: `A private redis-server on loopback. ${ROUNDS} interleaved rounds of ${CALLS} awaited successful calls per subject.`,
      sections: [
        {
          heading: 'Closed call with a store',
          text: 'ns per call; counts reach the store in batches, so no call waits on Redis. Target: RedisStore ≤ 1.2× MemoryStore.',
          table: { columns: ['store', 'median ns/op', 'min', 'max', '× MemoryStore'], rows },
        },
        {
          heading: 'Propagation of a trip to other processes',
          text: `Milliseconds from a replica's failing call to the \`open\` event in each of 2 replicas in other processes (wall clock), over ${latencies.length} deliveries. Target: under 100 ms.`,
          table: {
            columns: ['deliveries', 'p50 ms', 'p99 ms', 'max ms'],
            rows: [
              [
                latencies.length,
                percentile(latencies, 50).toFixed(2),
                percentile(latencies, 99).toFixed(2),
                Math.max(...latencies).toFixed(2),
              ],
            ],
          },
        },
      ],
    };
  } finally {
    redis.stop();
  }
}

await runIfMain(import.meta, run);
