// The Express gateway of the chaos run. GET /api/:id goes through the @breaker/express middleware to a
// handler whose call to the partner goes through the @breaker/undici interceptor (with retries, which the
// middleware's deadline bounds); /proxy/* is the @breaker/undici proxy. Started by chaos.mjs with a JSON
// config ({ partnerUrl, packages }) and an IPC channel, which it answers through gateway-probe.mjs.
import { count, registryState, serve, watch } from './gateway-probe.mjs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { BREAKER, CALL_TIMEOUT_MS, GATEWAY_SHUTDOWN_MS, OUTBOUND_CALL_TIMEOUT_MS } from './plan.mjs';

const config = JSON.parse(process.argv[2]);
const packages = pathToFileURL(config.packages.endsWith('/') ? config.packages : `${config.packages}/`);
const [{ default: express }, { Agent, request }, core, middleware, outbound] = await Promise.all([
  import('express'),
  import('undici'),
  import(new URL('core/dist/index.js', packages).href),
  import(new URL('express/dist/index.js', packages).href),
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
    retry: { attempts: 2, baseDelay: 20, maxDelay: 50 },
  }),
);

const app = express();
app.disable('x-powered-by');
app.get(
  '/api/:id',
  middleware.circuitBreaker({ name: 'api', registry, ...BREAKER, callTimeout: CALL_TIMEOUT_MS }),
  async (req, res) => {
    const { signal } = req.breaker;
    try {
      const upstream = await request(
        `${config.partnerUrl}/api/express/${encodeURIComponent(req.params.id)}`,
        {
          dispatcher: partner,
          signal,
        },
      );
      const body = await upstream.body.text();
      if (upstream.statusCode >= 500) return res.status(502).json({ error: 'partner failed' });
      res.status(200).type('json').send(body);
    } catch (error) {
      // After callTimeout the middleware has answered and aborted the signal; a client that left needs nothing.
      if (signal.aborted || res.headersSent) return;
      if (error instanceof core.BreakerOpenError) {
        count('outbound breaker open');
        const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1_000));
        return res.status(503).set('retry-after', String(seconds)).json({ error: 'partner unavailable' });
      }
      res.status(502).json({ error: 'partner unreachable' });
    }
  },
);
app.use(
  '/proxy',
  outbound.proxy({
    target: `${config.partnerUrl}/proxy/express`,
    name: 'proxy',
    registry,
    ...BREAKER,
    callTimeout: CALL_TIMEOUT_MS,
    dispatcher: proxyAgent,
  }),
);

const server = http.createServer(app);
watch(server);
server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: server.address().port }));
serve({
  name: 'express',
  server,
  shutdownMs: GATEWAY_SHUTDOWN_MS,
  describe: () => ({ registry: registryState(registry) }),
  close: async () => {
    registry.dispose();
    await Promise.all([partnerAgent.destroy(), proxyAgent.destroy()].map((p) => p.catch(() => {})));
  },
});
