// One gateway replica of the fleet soak: an Express 5 app whose breakers live in one BreakerRegistry and
// share their state through one RedisStore. Started by soak.mjs with a JSON config as its argument and an
// IPC channel; GET /_state reports what the runner checks.
//
// Timers are counted from here on, before any library is loaded: process.getActiveResourcesInfo() leaves
// out unref'd timers, and a leak of unref'd intervals is exactly what it would miss.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { watchStalls } from '../../harness/stalls.mjs';

const timers = new Set();
{
  const track = (create) => {
    const wrapped = function (...args) {
      const timer = create.apply(this, args);
      if (timer !== null && typeof timer === 'object') timers.add(timer);
      return timer;
    };
    if (create[promisify.custom]) wrapped[promisify.custom] = create[promisify.custom];
    return wrapped;
  };
  globalThis.setTimeout = track(globalThis.setTimeout);
  globalThis.setInterval = track(globalThis.setInterval);
  const probe = setTimeout(() => {}, 0);
  const proto = Object.getPrototypeOf(probe);
  clearTimeout(probe);
  const refresh = proto.refresh;
  // A fired timeout that is refreshed runs again, so it is live again.
  proto.refresh = function () {
    timers.add(this);
    return refresh.call(this);
  };
}
function liveTimers(describe) {
  let ref = 0;
  let unref = 0;
  const list = [];
  for (const timer of timers) {
    // Node marks a timeout that fired or was cleared as destroyed; refresh() clears the mark.
    if (timer._destroyed) {
      timers.delete(timer);
      continue;
    }
    if (timer.hasRef()) ref++;
    else unref++;
    if (describe) {
      const source = String(timer._onTimeout).replace(/\s+/g, ' ').slice(0, 160);
      list.push({ ms: timer._idleTimeout, repeat: timer._repeat !== null, ref: timer.hasRef(), source });
    }
  }
  return describe ? { ref, unref, list } : { ref, unref };
}

const config = JSON.parse(process.argv[2]);
const packages = pathToFileURL(config.packages.endsWith('/') ? config.packages : `${config.packages}/`);
const [{ default: express }, { Agent, request }, core, redis, httpAdapter] = await Promise.all([
  import('express'),
  import('undici'),
  import(new URL('core/dist/index.js', packages).href),
  import(new URL('redis/dist/index.js', packages).href),
  import(new URL('express/dist/index.js', packages).href),
]);

const faults = { unhandledRejections: 0, uncaughtExceptions: 0, warnings: {}, samples: [] };
const note = (kind, error) => {
  if (faults.samples.length < 20) {
    faults.samples.push({ kind, at: Date.now(), message: String(error?.stack ?? error).slice(0, 2_000) });
  }
};
process.on('unhandledRejection', (error) => {
  faults.unhandledRejections++;
  note('unhandledRejection', error);
});
process.on('uncaughtException', (error) => {
  faults.uncaughtExceptions++;
  note('uncaughtException', error);
});
process.on('warning', (warning) => {
  faults.warnings[warning.name] = (faults.warnings[warning.name] ?? 0) + 1;
  if (warning.name === 'MaxListenersExceededWarning') note('warning', warning);
});

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

const storeLog = { errors: 0, readies: 0, lastError: null, events: [] };
const store = new redis.RedisStore({ url: config.redisUrl });
store.on('error', ({ error }) => {
  storeLog.errors++;
  storeLog.lastError = { at: Date.now(), message: String(error?.message ?? error).slice(0, 500) };
});
store.on('ready', () => {
  storeLog.readies++;
  storeLog.events.push({ at: Date.now(), event: 'ready' });
  if (storeLog.events.length > 1_000) storeLog.events.shift();
});

// Every state change with the replica's wall time, numbered, so the runner can rebuild each replica's
// timeline exactly instead of sampling it.
const transitions = [];
let seq = 0;
const TRANSITIONS_KEPT = 20_000;
const record = (entry) => {
  transitions.push({ seq: ++seq, ...entry });
  if (transitions.length > TRANSITIONS_KEPT) transitions.shift();
};

const registry = new core.BreakerRegistry({
  defaults: { store, callTimeout: config.callTimeout, successThreshold: 1 },
});
const BREAKER_EVENTS = [
  'state-change',
  'open',
  'half-open',
  'close',
  'success',
  'failure',
  'ignored',
  'timeout',
  'reject',
  'store-error',
];
registry.on('add', ({ breaker }) => {
  record({
    at: Date.now(),
    name: breaker.name,
    from: null,
    to: breaker.state,
    reason: 'created',
    round: breaker.stats().round,
  });
  breaker.on('state-change', ({ from, to, reason }) =>
    record({ at: Date.now(), name: breaker.name, from, to, reason, round: breaker.stats().round }),
  );
});

const agent = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000, connections: 512 });
const callPartner = (path) => async (req, res) => {
  const { signal } = req.breaker;
  try {
    const upstream = await request(`${config.partnerUrl}${path(req)}`, { dispatcher: agent, signal });
    const body = await upstream.body.text();
    if (upstream.statusCode >= 500) return res.status(502).json({ error: 'partner failed' });
    res.status(200).type('json').send(body);
  } catch {
    // After callTimeout the breaker has answered already and aborted the signal.
    if (!signal.aborted && !res.headersSent) res.status(502).json({ error: 'partner unreachable' });
  }
};

// Server-side time per request, to tell a slow replica from a slow network or client when a request is late.
// A request later than the limit is set against the time this replica's event loop stood still while it
// waited (that measures the machine, shared by every process of the run, not the library): `over` counts
// those the stalls do not explain, `overByLoad` those they do.
const served = { count: 0, maxMs: 0, over: 0, overByLoad: 0, slowest: [] };
const LATE_AFTER_MS = config.callTimeout + 100;
/** Late requests waiting to be judged once the loop has caught up (the tick that shows a stall comes after it). */
const late = [];
const JUDGE_AFTER_MS = 250;
function judgeLate(all) {
  const now = performance.now();
  while (late.length > 0 && (all || late[0].closedAt + JUDGE_AFTER_MS <= now)) {
    const request = late.shift();
    const stalled = loopStalls.stalls(request.began, request.began + request.ms).total;
    const byLibrary = request.ms - stalled > LATE_AFTER_MS;
    if (byLibrary) served.over++;
    else served.overByLoad++;
    if (served.slowest.length < 10) {
      served.slowest.push({
        at: request.at,
        path: request.path,
        status: request.status,
        ms: request.ms,
        stalledMs: Math.round(stalled),
        byLibrary,
      });
    }
  }
}
const loopStalls = watchStalls({ onTick: () => judgeLate(false) });
const app = express();
app.disable('x-powered-by');
app.use((req, res, next) => {
  const began = performance.now();
  const at = Date.now();
  res.once('close', () => {
    const ms = performance.now() - began;
    served.count++;
    served.maxMs = Math.max(served.maxMs, ms);
    if (ms > LATE_AFTER_MS) {
      late.push({ at, began, closedAt: performance.now(), ms, path: req.path, status: res.statusCode });
    }
  });
  next();
});
for (const route of config.routes) {
  const guard = httpAdapter.circuitBreaker({
    name: route.name,
    registry,
    ...route.options,
    ...(route.keys ? { key: (req) => req.params.key } : {}),
  });
  if (route.keys) {
    const keys = new Set(route.keys);
    app.get(
      `${route.path}/:key`,
      (req, res, next) => (keys.has(req.params.key) ? next() : res.status(404).end()),
      guard,
      callPartner((req) => `${route.path}/${req.params.key}`),
    );
  } else {
    app.get(
      route.path,
      guard,
      callPartner(() => route.path),
    );
  }
}

const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: server.address().port, pid: process.pid });
});

function countBy(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
function emitterListeners(emitter, names) {
  let total = 0;
  for (const name of names) total += emitter.listenerCount(name);
  return total;
}
function nodeListeners(emitter) {
  const counts = {};
  for (const name of emitter.eventNames()) counts[String(name)] = emitter.listenerCount(name);
  return counts;
}

app.get('/_state', (req, res) => {
  const since = Number(req.query.since ?? 0);
  const checkpoint = req.query.gc === '1';
  if (checkpoint && typeof globalThis.gc === 'function') globalThis.gc();
  const breakers = {};
  let breakerListeners = 0;
  for (const breaker of registry.list()) {
    const stats = breaker.stats();
    breakers[breaker.name] = { state: stats.state, round: stats.round, retryAfterMs: stats.retryAfterMs };
    breakerListeners += emitterListeners(breaker, BREAKER_EVENTS);
  }
  const memory = process.memoryUsage();
  judgeLate(false);
  res.set('cache-control', 'no-store').json({
    replica: config.id,
    pid: process.pid,
    now: Date.now(),
    store: { connected: store.connected, ...storeLog, events: storeLog.events.slice(-20) },
    breakers,
    transitions: transitions.filter((entry) => entry.seq > since),
    firstSeq: transitions[0]?.seq ?? seq + 1,
    seq,
    faults,
    resources: countBy(process.getActiveResourcesInfo()),
    timers: liveTimers(checkpoint),
    listeners: {
      process: nodeListeners(process),
      server: nodeListeners(server),
      store: emitterListeners(store, ['error', 'ready']),
      registry: emitterListeners(registry, ['add', 'evict']),
      breakers: breakerListeners,
    },
    heap: { used: memory.heapUsed, total: memory.heapTotal, rss: memory.rss },
    loopDelayMaxMs: loopDelay.max / 1e6,
    // Late requests not judged yet (their stalls may not show yet) count as late, to be safe.
    served: { ...served, over: served.over + late.length },
  });
});

// Bounded, orderly shutdown; the process must then end by itself, which proves nothing of ours is left.
const SHUTDOWN_LIMIT_MS = config.shutdownMs ?? 4_000;
let stopping = false;
async function shutdown(why) {
  if (stopping) return;
  stopping = true;
  const startedAt = Date.now();
  const hard = setTimeout(() => {
    process.stderr.write(
      `replica ${config.id}: still running ${SHUTDOWN_LIMIT_MS} ms after ${why}; left: ${JSON.stringify(
        countBy(process.getActiveResourcesInfo()),
      )}\n`,
    );
    process.exit(3);
  }, SHUTDOWN_LIMIT_MS);
  hard.unref();
  loopDelay.disable();
  loopStalls.stop();
  registry.dispose();
  await new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await agent.destroy().catch(() => {});
  await store.close();
  process.stderr.write(`replica ${config.id}: closed in ${Date.now() - startedAt} ms after ${why}\n`);
  if (process.connected) process.disconnect();
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// The runner is gone: without it there is nothing to serve.
process.on('disconnect', () => void shutdown('the runner went away'));
