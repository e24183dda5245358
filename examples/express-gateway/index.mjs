// An Express gateway in front of two partner APIs, with one breaker per partner (`key`), a fallback
// and a per-request deadline (`callTimeout`) whose signal cancels the partner call.
// Sends a short burst of requests, prints what each got, and exits.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { BreakerRegistry } from '@breaker/core';
import { circuitBreaker } from '@breaker/express';

const ROUNDS = 20; // one request to each partner per round,
const EVERY_MS = 150; // one round every 150 ms.

let startedAt = Date.now();
const now = () => Date.now() - startedAt;

// The partners, on one local server: inventory always answers; shipping answers 500 until 0.8 s,
// then hangs (never answers) until 1.8 s, then answers well.
const partners = createServer((req, res) => {
  const [, partner, , id] = req.url.split('/');
  const t = now();
  if (partner === 'shipping' && t < 1_800) {
    if (t >= 800) return; // hang
    res.writeHead(500, { 'content-type': 'application/json' });
    return void res.end('{"error":"rate engine crashed"}');
  }
  const body = partner === 'inventory' ? { sku: id, stock: 7 } : { order: id, carrier: 'DHL', days: 2 };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
});

// The gateway: GET /api/:partner/... is passed on to that partner, each partner behind its own breaker.
const PARTNERS = new Set(['inventory', 'shipping']);
const FALLBACKS = {
  inventory: { stock: 'unknown' },
  shipping: { carrier: 'standard post', days: 5, estimate: true },
};
const registry = new BreakerRegistry();

const app = express();
app.get(
  '/api/:partner/*path',
  // Only known partners get a breaker: a key taken from the URL must not let clients make breakers at will.
  (req, res, next) => (PARTNERS.has(req.params.partner) ? next() : res.status(404).end()),
  circuitBreaker({
    name: 'partner',
    key: (req) => req.params.partner, // breakers "partner:inventory" and "partner:shipping"
    registry,
    failureThreshold: 3,
    timeout: 1_000,
    callTimeout: 300,
    // Answers while the partner's breaker is open or probing, and when the partner misses the deadline.
    fallback: (req, res, info) => {
      res.set('x-fallback', info.reason).json(FALLBACKS[req.params.partner]);
    },
  }),
  async (req, res) => {
    const url = `${partnersUrl}/${req.params.partner}/${req.params.path.join('/')}`;
    try {
      const upstream = await fetch(url, { signal: req.breaker.signal });
      res.status(upstream.ok ? 200 : 502).json(await upstream.json());
    } catch {
      if (!res.headersSent) res.status(502).json({ error: 'partner unreachable' });
    }
  },
);

const log = [];
registry.on('add', ({ breaker }) => {
  breaker.on('state-change', ({ from, to, reason }) => {
    log.push(`${(now() / 1_000).toFixed(2)}s  breaker ${breaker.name}: ${from} → ${to} (${reason})`);
  });
});

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const partnersUrl = `http://127.0.0.1:${await listen(partners)}`;
const gateway = createServer(app);
const gatewayUrl = `http://127.0.0.1:${await listen(gateway)}`;

async function get(path) {
  const start = now();
  const res = await fetch(gatewayUrl + path);
  const body = await res.json();
  const fallback = res.headers.get('x-fallback');
  const what = fallback ? `fallback (${fallback})` : JSON.stringify(body);
  return `${res.status} ${what}`.padEnd(44) + `${String(now() - start).padStart(4)} ms`;
}

console.log(`Gateway ${gatewayUrl}, partners at ${partnersUrl}`);
console.log(
  'shipping answers 500 until 0.80s, hangs until 1.80s, then answers well; inventory always answers',
);
console.log('breakers: failureThreshold 3, timeout 1000 ms, callTimeout 300 ms, with a fallback\n');
console.log(` time  ${'GET /api/inventory/items/:id'.padEnd(52)}  GET /api/shipping/quotes/:id`);
startedAt = Date.now();
for (let round = 0; round < ROUNDS; round++) {
  await sleep(Math.max(0, round * EVERY_MS - now()));
  const at = `${(now() / 1_000).toFixed(2)}s`;
  const [inventory, shipping] = await Promise.all([
    get(`/api/inventory/items/${round}`),
    get(`/api/shipping/quotes/${round}`),
  ]);
  for (const line of log.splice(0)) console.log(`       ${line}`);
  console.log(`${at}  ${inventory}  ${shipping}`);
}

console.log('\nBreakers at the end:');
for (const breaker of registry) {
  const { state, counts } = breaker.stats();
  console.log(
    `  ${breaker.name.padEnd(18)} ${state.padEnd(7)} ${counts.successes} ok, ${counts.failures} failed ` +
      `(${counts.timeouts} timed out), ${counts.rejections} turned away`,
  );
}
registry.dispose();
for (const server of [gateway, partners]) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
