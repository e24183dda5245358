// The five scenarios of the scale bench, run on one fleet after the other: start-up, steady success,
// 1 % failures, half-open with traffic, and a correlated trip. Each returns what Redis did (from
// RedisProbe) with the fleet's own figures.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DEFAULT_COUNT_WINDOW_SIZE } from '@breaker/core';
import { Fleet } from './fleet.mjs';

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await wait(5);
  }
  return true;
}

/** Breakers of scenarios 1, 4 and 5: the defaults (5 consecutive failures open for 10 s). */
export const STEADY_OPTIONS = {};
/** Breakers of scenario 2: a rate rule on the default window of 100 calls, and the consecutive rule. */
export const RATE_OPTIONS = { failureRateThreshold: 10, minimumCalls: 20, failureThreshold: 5 };
/** Breakers of scenario 3: one failure opens them for 1 s; a trial call may run for a minute. */
export const TRIAL_OPTIONS = { failureThreshold: 1, timeout: 1_000, halfOpenPermitTimeout: 60_000 };

/** The delay of this process's event loop while `work` runs: p99 and max, in ms. */
async function watchLoop(work) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    const result = await work();
    return { ...result, loop: { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 } };
  } finally {
    histogram.disable();
  }
}

/** What Redis did over `ms`, what the fleet fired meanwhile, and how late this process ran. */
function measure(fleet, probe, ms) {
  return watchLoop(async () => {
    fleet.takeCalls();
    await probe.reset({ sample: true });
    await wait(ms);
    const redis = await probe.read();
    return { redis, calls: fleet.takeCalls() };
  });
}

/**
 * (5) Start-up: N stores and their breakers made at once, with calls from the first moment, as a
 * fleet that starts together; counts the stores' `error` and the breakers' `store-error` events until
 * every store is ready, and one second more. With `busyMs`, the process is held that long by
 * synchronous work (a gateway's own start-up: routes, schemas) as soon as the first store's command
 * connection is up, while the stores subscribe and read their breakers' states.
 * The fleet then stays up for the steady scenario.
 */
export async function startup({ url, replicas, breakers, rate, probe, busyMs = 0 }) {
  await probe.flush();
  let fleet;
  let settled = false;
  const result = await watchLoop(async () => {
    await probe.reset();
    fleet = new Fleet({ url, replicas, breakers, rate });
    fleet.addBreakers('steady', STEADY_OPTIONS);
    fleet.startTraffic(() => 'ok');
    if (busyMs > 0) {
      const hold = () => {
        const until = performance.now() + busyMs;
        while (performance.now() < until);
      };
      const poll = () => {
        if (fleet.replicas.some(({ store }) => store.connected)) hold();
        else if (!settled) setImmediate(poll);
      };
      poll();
    }
    const all = () => new Set(fleet.ready.map((r) => r.replica)).size === replicas;
    const ready = await until(all, 15_000);
    settled = true;
    await wait(1_000);
    return { ready, redis: await probe.read(), calls: fleet.takeCalls() };
  });
  const firstReady = new Map();
  for (const { replica, at } of fleet.ready) if (!firstReady.has(replica)) firstReady.set(replica, at);
  return {
    fleet,
    result: {
      ...result,
      readyMs: [...firstReady.values()].map((at) => at - fleet.created),
      storeErrors: new Map(fleet.storeErrors),
      breakerErrors: new Map(fleet.breakerErrors),
    },
  };
}

/** (1) Steady success on the breakers start-up made, after `warmup` more seconds. */
export async function steady(fleet, probe, { seconds, warmup }) {
  await wait(warmup * 1_000);
  return measure(fleet, probe, seconds * 1_000);
}

/**
 * (2) 1 % of calls fail, drawn at random per call from each unit's seeded generator. Nothing should
 * open. First, fresh breakers take failures from their first call for `freshSeconds`: every breaker
 * that opens is recorded with the cause of its first opening. Then the cost is measured on breakers
 * whose windows first hold a window's worth of successful calls, as in a fleet that has been running,
 * so that openings do not stop their counts.
 */
export async function failures(fleet, probe, { seconds, warmup, share, freshSeconds }) {
  const outcome = (unit) => (unit.random() < share ? 'fail' : 'ok');
  fleet.disposeBreakers();
  await probe.flush();
  probe.takePublished();
  fleet.addBreakers('fresh', RATE_OPTIONS);
  fleet.startTraffic(outcome);
  await wait(freshSeconds * 1_000);
  fleet.stopTraffic();
  const fresh = trips(fleet, probe.takePublished(), 'fresh');
  fleet.disposeBreakers();
  await probe.flush();
  fleet.addBreakers('rate', RATE_OPTIONS);
  fleet.prime(DEFAULT_COUNT_WINDOW_SIZE);
  fleet.startTraffic(outcome);
  await wait(warmup * 1_000);
  const result = await measure(fleet, probe, seconds * 1_000);
  fleet.stopTraffic();
  const keys = await probe.census();
  return { ...result, keys, trips: fresh, later: trips(fleet, probe.takePublished(), 'rate') };
}

/** The breakers that opened, each with the cause of its first opening anywhere in the fleet. */
function trips(fleet, published, tag) {
  const first = new Map();
  for (const change of fleet.changes) {
    if (change.to !== 'open' || first.has(change.index)) continue;
    first.set(change.index, change);
  }
  const causes = new Map();
  const windows = new Map();
  for (const [index, change] of first) {
    let cause;
    if (change.reason !== 'remote') {
      cause = `${change.reason} on one replica's own window`;
      if (change.window !== undefined) {
        const w = `${change.window.failures} of ${change.window.calls} calls`;
        windows.set(w, (windows.get(w) ?? 0) + 1);
      }
    } else {
      const message = published.find((m) => m.name === `${tag}-${index}` && m.state === 'open');
      cause =
        message === undefined
          ? 'remote (message not seen)'
          : `${message.reason ?? 'unknown'} from ${message.origin === 'redis' ? 'the fleet window in Redis' : 'a replica'}`;
    }
    causes.set(cause, (causes.get(cause) ?? 0) + 1);
  }
  const opens = fleet.changes.filter((c) => c.to === 'open').length;
  return { breakers: first.size, opens, causes, windows };
}

/**
 * (3) Half-open across the fleet: every breaker is tripped by one failure on the first replica (the
 * others follow by pub/sub) and turns half-open a second later everywhere, while every replica keeps
 * calling it. Admitted calls hang, so the one trial call the fleet allows holds its permit, and every
 * other replica's calls ask Redis for a permit in vain: the lease scripts are counted.
 */
export async function halfOpen(fleet, probe, { seconds }) {
  fleet.disposeBreakers();
  await probe.flush();
  fleet.addBreakers('trial', TRIAL_OPTIONS);
  const units = () => fleet.replicas.flatMap((r) => r.breakers);
  for (const breaker of fleet.replicas[0].breakers)
    breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
  const opened = await until(() => units().every((b) => b.state !== 'closed'), 10_000);
  fleet.startTraffic(() => 'hang');
  const half = await until(
    () => fleet.hanging >= fleet.breakers && units().every((b) => b.state === 'half-open'),
    10_000,
  );
  await wait(300);
  const result = await measure(fleet, probe, seconds * 1_000);
  const trials = fleet.hanging;
  fleet.stopTraffic();
  fleet.release();
  return { ...result, reached: opened && half, trials };
}

/**
 * (4) A correlated trip: after `warmup` seconds of steady success every call of every breaker fails. Measures
 * Redis's work from that moment until every replica's breaker is open (and 300 ms more for messages
 * in flight), and the time each replica's breaker took to open.
 */
export async function correlatedTrip(fleet, probe, { warmup }) {
  fleet.disposeBreakers();
  await probe.flush();
  fleet.addBreakers('trip', STEADY_OPTIONS);
  let failing = false;
  fleet.startTraffic(() => (failing ? 'fail' : 'ok'));
  await wait(warmup * 1_000);
  fleet.takeCalls();
  probe.takePublished();
  const opened = new Map();
  const measured = await watchLoop(async () => {
    await probe.reset();
    const start = performance.now();
    failing = true;
    let seen = fleet.changes.length;
    const everyOpen = () => {
      for (; seen < fleet.changes.length; seen++) {
        const change = fleet.changes[seen];
        const key = change.replica * fleet.breakers + change.index;
        if (change.to === 'open' && change.t >= start && !opened.has(key)) opened.set(key, change);
      }
      return opened.size === fleet.units;
    };
    const all = await until(everyOpen, 9_000);
    await wait(300);
    return { start, all, redis: await probe.read(), calls: fleet.takeCalls() };
  });
  fleet.stopTraffic();
  const published = probe.takePublished();
  // Per breaker, the moment its last replica opened: when the whole fleet turns calls away.
  const last = new Map();
  for (const change of opened.values()) {
    last.set(change.index, Math.max(last.get(change.index) ?? 0, change.t - measured.start));
  }
  const local = [...opened.values()].filter((c) => c.reason !== 'remote').length;
  return { ...measured, latencies: [...last.values()], localTrips: local, published: published.length };
}
