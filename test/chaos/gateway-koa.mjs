// The Koa gateway of the chaos run. GET /api/:id goes through the @breaker/koa middleware (with a
// fallback that answers stale data) to a handler whose call to the partner goes through the
// @breaker/undici interceptor (with a bulkhead); /proxy/* is koaProxy(), with a bulkhead of its own.
// Started by chaos.mjs with a JSON config ({ partnerUrl, packages }) and an IPC channel, which it answers
// through gateway-probe.mjs.
import { count, registryState, serve, watch } from './gateway-probe.mjs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { BREAKER, CALL_TIMEOUT_MS, GATEWAY_SHUTDOWN_MS, OUTBOUND_CALL_TIMEOUT_MS } from './plan.mjs';

const config = JSON.parse(process.argv[2]);
const packages = pathToFileURL(config.packages.endsWith('/') ? config.packages : `${config.packages}/`);
const [{ default: Koa }, { Agent, request }, core, middleware, outbound] = await Promise.all([
  import('koa'),
  import('undici'),
  import(new URL('core/dist/index.js', packages).href),
  import(new URL('koa/dist/index.js', packages).href),
  import(new URL('undici/dist/index.js', packages).href),
]);

const registry = new core.BreakerRegistry();
// Short keep-alive, so that the quiet checkpoints find no idle connection left to the partner.
const agentOptions = { keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 };
const partnerAgent = new Agent(agentOptions);
const proxyAgent = new Agent(agentOptions);
const partner = partnerAgent.compose(
  outbound.circuitBreaker({
    name: 'partner',
    registry,
    ...BREAKER,
    callTimeout: OUTBOUND_CALL_TIMEOUT_MS,
    bulkhead: { maxConcurrent: 16, maxQueue: 16, queueTimeout: 100 },
  }),
);

const guard = middleware.circuitBreaker({
  name: 'api',
  registry,
  ...BREAKER,
  callTimeout: CALL_TIMEOUT_MS,
  fallback: (ctx, info) => {
    ctx.set('x-fallback', info.reason);
    ctx.body = { price: null, stale: true };
  },
});

async function api(ctx, id) {
  const { signal } = ctx.state.breaker;
  let upstream;
  let body;
  try {
    upstream = await request(`${config.partnerUrl}/api/koa/${encodeURIComponent(id)}`, {
      dispatcher: partner,
      signal,
    });
    body = await upstream.body.text();
  } catch (error) {
    const busy = error instanceof core.BreakerOpenError || error instanceof core.BulkheadRejectedError;
    ctx.throw(busy ? 503 : 502, 'partner unreachable');
  }
  if (upstream.statusCode >= 500) ctx.throw(502, 'partner failed');
  ctx.type = 'json';
  ctx.body = body;
}

// Mounted the way koa-mount does: the proxy sees the path under /proxy.
const proxy = outbound.koaProxy({
  target: `${config.partnerUrl}/proxy/koa`,
  name: 'proxy',
  registry,
  ...BREAKER,
  callTimeout: CALL_TIMEOUT_MS,
  dispatcher: proxyAgent,
  bulkhead: { maxConcurrent: 12 },
});

const app = new Koa();
// A listener of its own keeps Koa from logging every error the handlers throw.
app.on('error', () => count('koa error event'));
app.use(async (ctx, next) => {
  const route = /^\/api\/([^/]+)$/.exec(ctx.path);
  if (route !== null) return guard(ctx, () => api(ctx, route[1]));
  if (ctx.path === '/proxy' || ctx.path.startsWith('/proxy/')) {
    const rest = ctx.req.url.slice('/proxy'.length);
    ctx.req.url = rest.startsWith('/') ? rest : `/${rest}`;
    return proxy(ctx);
  }
  return next();
});

const server = http.createServer(app.callback());
watch(server);
server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: server.address().port }));
serve({
  name: 'koa',
  server,
  shutdownMs: GATEWAY_SHUTDOWN_MS,
  describe: () => ({ registry: registryState(registry) }),
  close: async () => {
    registry.dispose();
    await Promise.all([partnerAgent.destroy(), proxyAgent.destroy()].map((p) => p.catch(() => {})));
  },
});
