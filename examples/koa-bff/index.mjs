// A Koa backend-for-frontend: each widget of a page calls its own partner API behind its own breaker
// (`key`), with a per-request deadline (`callTimeout`) whose signal cancels the partner call, and a
// fallback that renders the widget empty rather than failing the page.
// Renders a short burst of pages, prints what each widget got, and exits.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Koa from 'koa';
import { BreakerRegistry } from '@breaker/core';
import { circuitBreaker } from '@breaker/koa';

const PAGES = 16; // one page view (both widgets) every 150 ms
const EVERY_MS = 150;

let startedAt = Date.now();
const now = () => Date.now() - startedAt;

// The partners, on one local server: reviews answers 500 until 0.9 s; recommendations is slow
// (400 ms, past the 250 ms deadline) from 0.3 s to 1.4 s. Otherwise both answer at once.
const partners = createServer((req, res) => {
  const t = now();
  const answer = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url.startsWith('/reviews')) {
    if (t < 900) return answer(500, { error: 'search index unavailable' });
    return answer(200, { stars: 4.6, count: 1_284 });
  }
  const items = { items: ['espresso grinder', 'milk jug'] };
  if (t >= 300 && t < 1_400) setTimeout(() => res.writable && answer(200, items), 400);
  else answer(200, items);
});

// The BFF: GET /widgets/:name calls that widget's partner.
const WIDGETS = new Set(['reviews', 'recommendations']);
const registry = new BreakerRegistry();
const app = new Koa();
let reported = 0;
app.on('error', () => reported++); // a handler error answered by the fallback is still reported here

app.use(async (ctx, next) => {
  ctx.widget = ctx.path.split('/')[2];
  if (ctx.method === 'GET' && WIDGETS.has(ctx.widget)) return next();
  ctx.status = 404;
});
app.use(
  circuitBreaker({
    name: 'widget',
    key: (ctx) => ctx.widget, // breakers "widget:reviews" and "widget:recommendations"
    registry,
    failureThreshold: 2,
    timeout: 800,
    callTimeout: 250,
    // Open, half-open and busy, past the deadline, or (Koa only) a handler that threw a failure.
    fallback: (ctx, info) => {
      ctx.set('x-fallback', info.reason);
      ctx.body = { empty: true };
    },
  }),
);
app.use(async (ctx) => {
  const upstream = await fetch(`${partnersUrl}/${ctx.widget}`, { signal: ctx.state.breaker.signal });
  if (!upstream.ok) ctx.throw(502, `${ctx.widget} partner answered ${upstream.status}`);
  ctx.body = await upstream.json();
});

const log = [];
registry.on('add', ({ breaker }) => {
  breaker.on('state-change', ({ from, to, reason }) => {
    log.push(`${(now() / 1_000).toFixed(2)}s  breaker ${breaker.name}: ${from} → ${to} (${reason})`);
  });
});

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const partnersUrl = `http://127.0.0.1:${await listen(partners)}`;
const bff = createServer(app.callback());
const bffUrl = `http://127.0.0.1:${await listen(bff)}`;

async function widget(name) {
  const start = now();
  const res = await fetch(`${bffUrl}/widgets/${name}`);
  const body = await res.text();
  const fallback = res.headers.get('x-fallback');
  const what = fallback ? `fallback (${fallback})` : body;
  return `${res.status} ${what}`.padEnd(42) + `${String(now() - start).padStart(4)} ms`;
}

console.log(`BFF ${bffUrl}, partners at ${partnersUrl}`);
console.log('reviews answers 500 until 0.90s; recommendations takes 400 ms from 0.30s to 1.40s');
console.log('breakers: failureThreshold 2, timeout 800 ms, callTimeout 250 ms, with a fallback\n');
console.log(` time  ${'GET /widgets/reviews'.padEnd(49)}  GET /widgets/recommendations`);
startedAt = Date.now();
for (let page = 0; page < PAGES; page++) {
  await sleep(Math.max(0, page * EVERY_MS - now()));
  const at = `${(now() / 1_000).toFixed(2)}s`;
  const [reviews, recommendations] = await Promise.all([widget('reviews'), widget('recommendations')]);
  for (const line of log.splice(0)) console.log(`       ${line}`);
  console.log(`${at}  ${reviews}  ${recommendations}`);
}

console.log(`\nBreakers at the end (the app's 'error' event heard ${reported} handler errors):`);
for (const breaker of registry) {
  const { state, counts } = breaker.stats();
  console.log(
    `  ${breaker.name.padEnd(22)} ${state.padEnd(7)} ${counts.successes} ok, ${counts.failures} failed ` +
      `(${counts.timeouts} timed out), ${counts.rejections} turned away`,
  );
}
registry.dispose();
for (const server of [bff, partners]) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
