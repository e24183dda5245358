// What a gateway process of the chaos run measures about itself, and how it serves the runner: timers,
// handles, listeners and heap for the leak checkpoints, unhandled errors, and each request's time from
// its arrival to its status line, with the event loop's lag over that time, so that an answer late
// because the machine was busy can be told from one the library made late. The gateways import this
// module first: timers are counted from before any library is loaded, since
// process.getActiveResourcesInfo() leaves out unref'd timers.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { CALL_TIMEOUT_MS, LATENCY_SLACK_MS } from './plan.mjs';
import { watchStalls } from '../harness/stalls.mjs';

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

const faults = { unhandledRejections: 0, uncaughtExceptions: 0, warnings: {}, counts: {}, samples: [] };
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

/** Counts an event the gateway reports (Koa's `error` events, say). */
export function count(name) {
  faults.counts[name] = (faults.counts[name] ?? 0) + 1;
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

let pruned = 0;
const lagWatch = watchStalls({
  onTick(now) {
    // The set of timers would otherwise keep every timer ever made alive.
    if (now - pruned > 1_000) {
      pruned = now;
      for (const timer of timers) if (timer._destroyed) timers.delete(timer);
    }
    judgeLate(false);
  },
});
const stalls = lagWatch.stalls;

const LIMIT_MS = CALL_TIMEOUT_MS + LATENCY_SLACK_MS;
const HISTOGRAM_STEP_MS = 10;
const HISTOGRAM_SLOTS = 300;
const LATE_KEPT = 2_000;
const JUDGE_AFTER_MS = 250;
/** Late requests waiting to be judged, oldest first. */
const late = [];
const TRAFFIC = /^\/(api|proxy)\/(\d+)$/;

const served = {};
const kindStats = (kind) =>
  (served[kind] ??= {
    count: 0,
    byStatus: {},
    unanswered: 0,
    cut: 0,
    doubleHeads: 0,
    headerMax: 0,
    histogram: new Array(HISTOGRAM_SLOTS + 1).fill(0),
    late: { library: 0, load: 0, samples: [] },
  });

/** Requests the gateway holds now: when each arrived, and whether its status line has gone out. */
const open = new Map();

function openRequests() {
  const now = performance.now();
  let oldest = 0;
  let unanswered = 0;
  for (const entry of open.values()) {
    if (entry.answered) continue;
    unanswered++;
    oldest = Math.max(oldest, now - entry.began);
  }
  return { count: open.size, unanswered, oldestUnansweredMs: Math.round(oldest) };
}

/** Times every request `server` serves, by kind: `api`, `proxy`, or `other` (fuzz and strays). */
export function watch(server) {
  server.prependListener('request', (req, res) => {
    const began = performance.now();
    const entry = { began, answered: false };
    open.set(res, entry);
    const match = TRAFFIC.exec(req.url ?? '');
    const stats = kindStats(match === null ? 'other' : match[1]);
    stats.count++;
    let headersAt;
    let heads = 0;
    const writeHead = res.writeHead;
    res.writeHead = function (...args) {
      heads++;
      headersAt ??= performance.now();
      entry.answered = true;
      return writeHead.apply(this, args);
    };
    res.once('close', () => {
      open.delete(res);
      const closedAt = performance.now();
      if (heads > 1) stats.doubleHeads++;
      if (!res.writableFinished) stats.cut++;
      const answered = headersAt !== undefined;
      if (answered) stats.byStatus[res.statusCode] = (stats.byStatus[res.statusCode] ?? 0) + 1;
      else stats.unanswered++;
      // An answer's time is to its status line; a request left unanswered counts until it closed.
      const ms = (answered ? headersAt : closedAt) - began;
      stats.headerMax = Math.max(stats.headerMax, ms);
      stats.histogram[Math.min(HISTOGRAM_SLOTS, Math.floor(ms / HISTOGRAM_STEP_MS))]++;
      if (ms <= LIMIT_MS) return;
      // The tick that shows a stall comes after it: judge the request once the loop has caught up.
      late.push({
        stats,
        judgeAt: closedAt + JUDGE_AFTER_MS,
        from: began,
        to: began + ms,
        id: match === null ? null : Number(match[2]),
        path: match === null ? String(req.url).slice(0, 80) : undefined,
        status: answered ? res.statusCode : null,
      });
    });
  });
}

/** Sets each late request against the loop's stalls while it waited (all of them, with `all`). */
function judgeLate(all) {
  const now = performance.now();
  while (late.length > 0 && (all || late[0].judgeAt <= now)) {
    const { stats, from, to, judgeAt: _, ...request } = late.shift();
    const lag = stalls(from, to);
    const ms = to - from;
    const byLibrary = ms - lag.total > LIMIT_MS;
    if (byLibrary) stats.late.library++;
    else stats.late.load++;
    if (stats.late.samples.length >= LATE_KEPT) continue;
    stats.late.samples.push({
      ...request,
      ms: Math.round(ms),
      lagMs: Math.round(lag.total),
      longestStallMs: Math.round(lag.longest),
      byLibrary,
    });
  }
}

function countBy(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

export function nodeListeners(emitter) {
  const counts = {};
  for (const name of emitter.eventNames()) counts[String(name)] = emitter.listenerCount(name);
  return counts;
}

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

/** The listeners the breakers of `registry` and the registry itself hold, and the breakers' states. */
export function registryState(registry) {
  let listeners = 0;
  const states = {};
  for (const breaker of registry.list()) {
    const { state } = breaker.stats();
    states[state] = (states[state] ?? 0) + 1;
    for (const event of BREAKER_EVENTS) listeners += breaker.listenerCount(event);
  }
  const own = registry.listenerCount('add') + registry.listenerCount('evict');
  return { breakers: registry.size, states, breakerListeners: listeners, registryListeners: own };
}

/**
 * Serves the runner over IPC (`state`, after a GC when asked) and shuts down in order on SIGTERM,
 * SIGINT or a lost runner: `describe()` adds the gateway's own figures, `close()` releases what it holds.
 */
export function serve({ name, server, describe, close, shutdownMs }) {
  // Loading the libraries stalls the loop once; that is not what the run measures.
  loopDelay.reset();
  process.on('message', (message) => {
    if (message?.type !== 'state') return;
    judgeLate(true);
    if (message.gc && typeof globalThis.gc === 'function') globalThis.gc();
    const memory = process.memoryUsage();
    process.send?.({
      type: 'state',
      id: message.id,
      gateway: name,
      pid: process.pid,
      faults,
      resources: countBy(process.getActiveResourcesInfo()),
      timers: liveTimers(message.gc === true),
      listeners: { process: nodeListeners(process), server: nodeListeners(server) },
      heap: { used: memory.heapUsed, total: memory.heapTotal, rss: memory.rss },
      loopDelayMaxMs: loopDelay.max / 1e6,
      served,
      open: openRequests(),
      ...describe(),
    });
  });

  let stopping = false;
  const shutdown = async (why) => {
    if (stopping) return;
    stopping = true;
    const startedAt = Date.now();
    const hard = setTimeout(() => {
      process.stderr.write(
        `${name}: still running ${shutdownMs} ms after ${why}; left: ${JSON.stringify(
          countBy(process.getActiveResourcesInfo()),
        )}\n`,
      );
      process.exit(3);
    }, shutdownMs);
    hard.unref();
    lagWatch.stop();
    loopDelay.disable();
    await new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await close();
    process.stderr.write(`${name}: closed in ${Date.now() - startedAt} ms after ${why}\n`);
    if (process.connected) process.disconnect();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // The runner is gone: without it there is nothing to serve.
  process.on('disconnect', () => void shutdown('the runner went away'));
}
