// An Express gateway guards a flaky partner API with @breaker/express while clients send it a steady
// stream of requests: printed as a live timeline, one line per second, with every state change.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { BreakerRegistry } from '@breaker/core';
import { circuitBreaker } from '@breaker/express';
import { dashboard } from '@breaker/dashboard';

// `--otel` reports the breakers through OpenTelemetry as well, and prints what the SDK saw at the end.
const otel = process.argv.includes('--otel');

// The partner's script: up, then it hangs (never answers), then it answers 500s, then it is up again.
const PHASES = [
  { until: 2_000, name: 'up' },
  { until: 4_500, name: 'hanging' },
  { until: 7_000, name: '500s' },
  { until: Infinity, name: 'up again' },
];
const RUN_MS = 10_000; // clients send requests for this long,
const RATE = 20; // this many a second; every 4th one asks for live data only (no fallback).
const BREAKER = { failureThreshold: 5, successThreshold: 3, timeout: 1_500, callTimeout: 600 };

// Nothing here should outlive the run; if something does, say so instead of hanging.
setTimeout(() => {
  console.error('The demo did not finish in time.');
  process.exit(1);
}, 20_000).unref();

let startedAt = Date.now();
const now = () => Date.now() - startedAt;
const phase = (at = now()) => PHASES.find((p) => at < p.until).name;
const seconds = (ms, digits = 1) => `${(ms / 1_000).toFixed(digits)}s`;

// (a) The partner API: exchange rates.
const partnerStats = { requests: 0, hung: 0 };
const partner = createServer((_req, res) => {
  partnerStats.requests++;
  const current = phase();
  // A hung request is never answered; the gateway gives up on it and closes the connection.
  if (current === 'hanging') return void partnerStats.hung++;
  if (current === '500s') {
    res.writeHead(500, { 'content-type': 'application/json' });
    return void res.end('{"error":"database unavailable"}');
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ base: 'EUR', rates: { USD: 1.08, GBP: 0.85, JPY: 162.4 }, at: new Date() }));
});

// (b) The gateway. Both routes take the same breaker, "partner", from one registry: /rates falls back
// to the last good answer, /rates/live (for clients that need fresh data) fails fast with the 503.
const registry = new BreakerRegistry();
const guard = { name: 'partner', registry, ...BREAKER };
let lastGood;

function lastGoodRates(_req, res, { reason }) {
  if (lastGood === undefined) throw new Error('nothing cached yet'); // the 503 or 504 goes out instead
  res.set({ 'x-fallback': reason, age: String(Math.floor((Date.now() - lastGood.at) / 1_000)) });
  res.json(lastGood.body);
}

async function rates(req, res) {
  try {
    const upstream = await fetch(partnerUrl, { signal: req.breaker.signal });
    if (!upstream.ok) return void res.status(502).json({ error: `partner answered ${upstream.status}` });
    const body = await upstream.json();
    lastGood = { body, at: Date.now() };
    res.json(body);
  } catch {
    // At callTimeout the signal aborts the fetch: the breaker has answered already, and writes are dropped.
    if (!res.headersSent) res.status(502).json({ error: 'partner unreachable' });
  }
}

const telemetry = otel ? (await import('./otel.mjs')).startTelemetry(registry) : undefined;
const app = express();
if (telemetry !== undefined) app.use(telemetry.middleware);
app.get('/rates', circuitBreaker({ ...guard, fallback: lastGoodRates }), rates);
app.get('/rates/live', circuitBreaker(guard), rates);
// A live page of the registry's breakers, for a browser to watch while the demo runs.
const breakersPage = dashboard({ registry });
app.use('/breakers', breakersPage);

// The breaker is made on the first request: watch the registry for it, and note every state change.
const changes = []; // lines not printed yet
const states = [{ at: 0, state: 'closed' }];
let lastFailure = '';
registry.on('add', ({ breaker }) => {
  breaker.on('failure', ({ error }) => {
    lastFailure = error.code === 'BREAKER_TIMEOUT' ? `no answer in ${error.timeoutMs} ms` : `${error.status}`;
  });
  breaker.on('state-change', ({ from, to, reason }) => {
    let detail = `${from} → ${to}  (${reason})`;
    if (reason === 'consecutive-failures' || reason === 'trial-failure')
      detail += `, last failure: ${lastFailure}`;
    if (to === 'open') detail += `; open for ${seconds(breaker.stats().retryAfterMs)}`;
    const at = now();
    states.push({ at, state: to });
    changes.push({ at, line: `${seconds(at, 3).padStart(7)}  ── breaker "${breaker.name}": ${detail}` });
  });
});

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const partnerUrl = `http://127.0.0.1:${await listen(partner)}/v1/rates`;
const gatewayServer = createServer(app);
const gatewayUrl = `http://127.0.0.1:${await listen(gatewayServer)}`;

// (c) The clients, and what they saw.
const KINDS = ['ok', 'failed', 'failed fast', 'fallback'];
const answers = [];
const inFlight = new Set();
let firstRejection;

async function client(path) {
  const start = now();
  const answer = { kind: 'failed' };
  try {
    const res = await fetch(gatewayUrl + path, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    if (res.status === 503 && res.headers.get('content-type')?.startsWith('application/problem+json')) {
      answer.kind = 'failed fast';
      answer.retryAfter = res.headers.get('retry-after');
      firstRejection ??= { status: res.status, headers: Object.fromEntries(res.headers), body: text };
    } else if (res.headers.has('x-fallback')) {
      answer.kind = 'fallback';
      answer.reason = res.headers.get('x-fallback');
    } else if (res.ok) {
      answer.kind = 'ok';
    }
  } catch {
    // A request the gateway never answered counts as failed.
  }
  answer.at = now();
  answer.ms = answer.at - start;
  answers.push(answer);
}

const percentile = (sorted, p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
function cell(some) {
  if (some.length === 0) return '-'.padStart(3).padEnd(13);
  const ms = some.map((a) => a.ms).sort((a, b) => a - b);
  return `${String(some.length).padStart(3)} ${`${percentile(ms, 0.5)}/${ms.at(-1)}`.padEnd(9)}`;
}

// One line per second: the state changes in it, then the answers received in it.
function printSecond(end) {
  while (changes.length > 0 && changes[0].at < end) console.log(changes.shift().line);
  const some = answers.filter((a) => a.at >= end - 1_000 && a.at < end);
  const { state } = states.findLast((s) => s.at < end);
  const retryAfter = [...new Set(some.filter((a) => a.retryAfter).map((a) => a.retryAfter))];
  const cells = KINDS.map((kind) => cell(some.filter((a) => a.kind === kind)));
  const row = [
    seconds(end).padStart(7),
    phase(end - 1).padEnd(8),
    state.padEnd(9),
    ...cells,
    retryAfter.join(', '),
  ];
  console.log(row.join('  ').trimEnd());
}

async function timeline() {
  for (let end = 1_000; ; end += 1_000) {
    await sleep(Math.max(0, end + 20 - now()));
    printSecond(end);
    if (end >= RUN_MS && inFlight.size === 0 && answers.every((a) => a.at < end)) return;
  }
}

async function traffic() {
  for (let i = 0; i < (RUN_MS / 1_000) * RATE; i++) {
    await sleep(Math.max(0, (i * 1_000) / RATE - now()));
    const request = client(i % 4 === 3 ? '/rates/live' : '/rates');
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
}

console.log('Breaker demo: an Express gateway in front of a flaky partner API');
console.log(`  partner  ${partnerUrl}`);
console.log(
  `           up until ${seconds(PHASES[0].until)}, hangs until ${seconds(PHASES[1].until)}, ` +
    `answers 500 until ${seconds(PHASES[2].until)}, then up again`,
);
console.log(
  `  gateway  ${gatewayUrl}  GET /rates (falls back to the last good rates), GET /rates/live (no fallback)`,
);
console.log(`           dashboard: ${gatewayUrl}/breakers/ (open it in a browser while the demo runs)`);
console.log(
  `  breaker  "partner" from @breaker/express: failureThreshold ${BREAKER.failureThreshold}, ` +
    `successThreshold ${BREAKER.successThreshold}, timeout ${BREAKER.timeout} ms, callTimeout ${BREAKER.callTimeout} ms`,
);
console.log(`  clients  ${RATE} requests/s for ${RUN_MS / 1_000} s, every 4th one to /rates/live`);
console.log();
console.log('Answers received in each second: how many, then latency p50/max in ms.');
console.log('  ok           fresh rates (200)');
console.log(
  '  failed       the partner failed: 502 from the handler, or 504 from the breaker at callTimeout',
);
console.log(
  '  failed fast  503 from the breaker, without calling the partner (Retry-After in the last column)',
);
console.log('  fallback     the last good rates (200 with X-Fallback: open, half-open-busy or timeout)');
console.log();
const header = [
  '   time',
  'partner ',
  'breaker  ',
  ...KINDS.map((k) => k.padStart(3).padEnd(13)),
  'Retry-After',
];
console.log(header.join('  '));
console.log(header.map((h) => '-'.repeat(h.length)).join('  '));

startedAt = Date.now();
await Promise.all([timeline(), traffic()]);

// The summary, then close everything.
const stats = registry.get('partner').stats();
await telemetry?.finish();
breakersPage.close();
registry.dispose();
for (const server of [gatewayServer, partner]) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

const tally = (values) => {
  const counts = new Map();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, n]) => `${value} ${n}`).join(', ');
};
console.log();
console.log(`Summary of ${answers.length} requests in ${seconds(now())}:`);
for (const kind of KINDS)
  console.log(`  ${kind.padEnd(12)} ${answers.filter((a) => a.kind === kind).length}`);
console.log(`  fallbacks by reason:   ${tally(answers.filter((a) => a.reason).map((a) => a.reason))}`);
console.log(
  `  Retry-After on 503s:   ${tally(answers.filter((a) => a.retryAfter).map((a) => `${a.retryAfter} s ×`))}`,
);
const { successes, failures, rejections, stale } = stats.counts;
console.log(
  `  breaker "partner":     ${stats.state} at the end; counted ${successes} successes and ${failures} failures, ` +
    `turned ${rejections} requests away`,
);
console.log(`                         (${stale} more ended after a state change and counted for nothing)`);
console.log(
  `  the partner saw ${partnerStats.requests} of the ${answers.length} requests (${partnerStats.hung} hung)`,
);
if (firstRejection !== undefined) {
  const { status, headers, body } = firstRejection;
  console.log();
  console.log('The first 503 the clients saw:');
  console.log(`  HTTP ${status}`);
  for (const name of ['content-type', 'cache-control', 'retry-after'])
    console.log(`  ${name}: ${headers[name]}`);
  console.log(`  ${body}`);
}
