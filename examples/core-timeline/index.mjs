// A breaker in front of a partner API that fails for a while and then recovers,
// printed as a timeline of calls and state changes.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BreakerOpenError, CircuitBreaker } from '@breaker/core';

const OUTAGE_MS = 2_500;
const INTERVAL_MS = 200;
const CALLS = 25;

let startedAt = Date.now();
let partnerRequests = 0;

// The partner answers 500 until OUTAGE_MS after the first call, then 200 with JSON.
const partner = createServer((_req, res) => {
  partnerRequests++;
  const down = Date.now() - startedAt < OUTAGE_MS;
  res.writeHead(down ? 500 : 200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(down ? { error: 'partner is down' } : { orders: [] }));
});
await new Promise((resolve) => partner.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${partner.address().port}/v1/orders`;

const breaker = new CircuitBreaker({
  name: 'partner',
  failureThreshold: 3,
  successThreshold: 2,
  timeout: 1_500,
  callTimeout: 1_000,
});

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
const elapsed = (at) => `${((at - startedAt) / 1000).toFixed(3)}s`.padStart(8);
const row = (at, call, result, detail) =>
  `${elapsed(at)}  ${String(call).padStart(4)}  ${result.padEnd(11)}  ${detail}`;

// State changes made while a call settles are printed after that call's own line.
let callInFlight = false;
let pending = [];
let opens = 0;

breaker.on('state-change', ({ from, to, reason, at }) => {
  let detail = `${from} → ${to}  (${reason})`;
  if (to === 'open') {
    opens++;
    detail += `, open for ${seconds(breaker.toJSON().openUntil - at)}`;
  }
  const line = row(at, '', 'STATE', detail);
  if (callInFlight) pending.push(line);
  else console.log(line);
});

const getOrders = () =>
  breaker.fire(async ({ signal }) => {
    const res = await fetch(url, { signal });
    const body = await res.json();
    if (!res.ok) throw new Error(`HTTP ${res.status} ${JSON.stringify(body)}`);
    return body;
  });

console.log(`Partner API at ${url}`);
console.log(`fails with 500 for the first ${seconds(OUTAGE_MS)}, then recovers.`);
const { failureThreshold, successThreshold, timeout, callTimeout } = breaker.options;
console.log(
  `Breaker "${breaker.name}": failureThreshold ${failureThreshold}, successThreshold ${successThreshold}, ` +
    `timeout ${timeout} ms, callTimeout ${callTimeout} ms; one call every ${INTERVAL_MS} ms.`,
);
console.log();
console.log(`${'elapsed'.padStart(8)}  call  ${'result'.padEnd(11)}  detail`);
console.log(`${'-------'.padStart(8)}  ----  ${'-'.repeat(11)}  ${'-'.repeat(56)}`);

startedAt = Date.now();
for (let call = 1; call <= CALLS; call++) {
  await sleep(Math.max(0, startedAt + (call - 1) * INTERVAL_MS - Date.now()));
  const trial =
    breaker.state === 'half-open'
      ? `, trial call ${breaker.stats().halfOpen.successes + 1} of ${successThreshold}`
      : '';
  const start = Date.now();
  callInFlight = true;
  let line;
  try {
    const body = await getOrders();
    line = row(start, call, 'ok', `HTTP 200 ${JSON.stringify(body)} after ${Date.now() - start} ms${trial}`);
  } catch (error) {
    if (error instanceof BreakerOpenError) {
      const retry =
        error.retryAfterMs > 0 ? `retry in ${seconds(error.retryAfterMs)}` : 'no free trial permit';
      line = row(start, call, 'failed fast', `${error.name} [${error.code}] while ${error.state}, ${retry}`);
    } else {
      line = row(start, call, 'failed', `${error.message} after ${Date.now() - start} ms${trial}`);
    }
  }
  callInFlight = false;
  console.log(line);
  for (const stateLine of pending) console.log(stateLine);
  pending = [];
}

const stats = breaker.stats();
breaker.dispose();
partner.closeAllConnections();
await new Promise((resolve) => partner.close(resolve));

const { successes, failures, timeouts, rejections } = stats.counts;
console.log();
console.log(`Summary after ${CALLS} calls in ${seconds(Date.now() - startedAt)}:`);
const summary = [
  ['state', stats.state],
  ['succeeded', successes],
  ['failed', `${failures} (${timeouts} timed out)`],
  ['failed fast', `${rejections}, without reaching the partner`],
  ['failure rate', `${stats.failureRate.toFixed(1)} % of the calls that ran`],
  ['opened', `${opens} times`],
  ['partner saw', `${partnerRequests} requests`],
];
for (const [label, value] of summary) console.log(`  ${label.padEnd(13)} ${value}`);
