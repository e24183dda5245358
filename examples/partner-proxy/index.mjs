// A gateway that proxies /partner/* to a flaky partner API through @breaker/undici.
// The partner fails for a while; the breaker opens, the gateway answers 503 at once
// without touching the partner, then a trial request finds it healthy again.
import http from 'node:http';
import express from 'express';
import { BreakerRegistry } from '@breaker/core';
import { proxy } from '@breaker/undici';

const DOWN_FROM = 600;
const DOWN_UNTIL = 2_000;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(2).padStart(5)}s`;

// The partner: streams JSON, and answers 500 while it is "down".
let partnerRequests = 0;
const partner = http.createServer((req, res) => {
  partnerRequests++;
  const age = Date.now() - started;
  if (age >= DOWN_FROM && age < DOWN_UNTIL) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end('stack trace the client must never see');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ path: req.url, forwardedFor: req.headers['x-forwarded-for'] }));
});
await new Promise((resolve) => partner.listen(0, '127.0.0.1', resolve));
const target = `http://127.0.0.1:${partner.address().port}/v1`;

// The gateway: every breaker lives in one registry, so its state can be shown.
const registry = new BreakerRegistry();
const app = express();
app.use('/partner', proxy({ target, registry, name: 'partner', failureThreshold: 3, timeout: 800 }));
const gateway = app.listen(0, '127.0.0.1');
await new Promise((resolve) => gateway.once('listening', resolve));
const base = `http://127.0.0.1:${gateway.address().port}/partner`;

registry.on('add', ({ breaker }) =>
  breaker.on('state-change', ({ from, to, reason }) =>
    console.log(`${elapsed()}  breaker ${breaker.name}: ${from} → ${to} (${reason})`),
  ),
);

console.log(
  `partner ${target} is down from ${DOWN_FROM} ms to ${DOWN_UNTIL} ms; gateway proxies ${base}/*\n`,
);
for (let i = 1; i <= 30; i++) {
  const res = await fetch(`${base}/orders/${i}?page=1`);
  const body = await res.text();
  const note = res.status === 503 ? `failed fast, Retry-After ${res.headers.get('retry-after')} s` : body;
  console.log(`${elapsed()}  GET /partner/orders/${i}  ${res.status}  ${note.slice(0, 90)}`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}

console.log(`\npartner saw ${partnerRequests} of 30 requests; breaker now ${registry.list()[0]?.state}`);
gateway.closeAllConnections();
gateway.close();
partner.closeAllConnections();
partner.close();
