// Traffic of the fleet soak: open-loop requests to the replicas on the plan's schedule, with their
// answers, latencies and connection set-up times, and the `/_state` polls of each replica.
import diagnostics from 'node:diagnostics_channel';
import { Pool } from 'undici';
import {
  BREAKERS,
  CALL_TIMEOUT_MS,
  CLIENT_LIMIT_MS,
  LATENCY_SLACK_MS,
  MAX_IN_FLIGHT,
  ROUTES,
  rateAt,
} from './plan.mjs';
import { sleep } from './processes.mjs';

export async function fetchState(pool, since, gc = false) {
  try {
    const { statusCode, body } = await pool.request({
      path: `/_state?since=${since}${gc ? '&gc=1' : ''}`,
      method: 'GET',
    });
    if (statusCode !== 200) {
      await body.dump();
      return null;
    }
    return await body.json();
  } catch {
    return null;
  }
}

export function newRequestStats(plan) {
  return {
    total: 0,
    answered: 0,
    inFlight: 0,
    skipped: 0,
    byStatus: {},
    byRoute: Object.fromEntries(ROUTES.map((r) => [r.name, { total: 0, byStatus: {} }])),
    errors: {},
    violations: 0,
    connects: {},
    worst: [],
    maxLatencyMs: 0,
    latencies: new Float64Array(0),
    latencyCount: 0,
    sends: Object.fromEntries(BREAKERS.map((b) => [b.name, []])),
    byPhase: plan.phases.map(() => ({ total: 0, byStatus: {}, maxLatencyMs: 0 })),
  };
}

/** Open-loop traffic: requests leave on schedule whether or not earlier ones have been answered. */
export async function runTraffic({ run, plan, pools, t0, maxRequests, stop }) {
  const stats = run.requests;
  stats.latencies = new Float64Array(maxRequests);
  const limit = CALL_TIMEOUT_MS + LATENCY_SLACK_MS;
  const credit = ROUTES.map(() => 0);
  const sent = ROUTES.map(() => 0);
  const inFlight = new Set();
  let closing = null;
  let last = performance.now();
  let phase = 0;

  // Connection set-up is timed apart from the requests, so a late answer can be put down to it.
  // undici hands each event a fresh copy of the parameters, so attempts are paired per port, oldest first.
  const connecting = new Map(run.replicas.map((r) => [String(r.port), []]));
  const byPort = new Map(run.replicas.map((r) => [String(r.port), r.id]));
  const onBeforeConnect = ({ connectParams }) => connecting.get(connectParams.port)?.push(performance.now());
  const onConnectError = ({ connectParams }) => connecting.get(connectParams.port)?.shift();
  const onConnected = ({ connectParams }) => {
    const began = connecting.get(connectParams.port)?.shift();
    const id = byPort.get(connectParams.port);
    if (began === undefined || id === undefined) return;
    const took = performance.now() - began;
    const entry = (stats.connects[id] ??= { count: 0, maxMs: 0, over100ms: 0 });
    entry.count++;
    entry.maxMs = Math.max(entry.maxMs, took);
    if (took > 100) entry.over100ms++;
  };
  diagnostics.subscribe('undici:client:beforeConnect', onBeforeConnect);
  diagnostics.subscribe('undici:client:connected', onConnected);
  diagnostics.subscribe('undici:client:connectError', onConnectError);

  const openPools = () =>
    run.replicas.map(
      (r) =>
        new Pool(`http://127.0.0.1:${r.port}`, {
          connections: 512,
          headersTimeout: CLIENT_LIMIT_MS,
          bodyTimeout: CLIENT_LIMIT_MS,
          keepAliveTimeout: 10_000,
        }),
    );

  const send = (routeIndex) => {
    const route = ROUTES[routeIndex];
    const n = sent[routeIndex]++;
    // Keys alternate request by request, so at low traffic no key waits longer than the others.
    const spread = route.keys?.length ?? 1;
    const replica = Math.floor(n / spread) % run.replicas.length;
    const key = route.keys?.[n % spread];
    const breaker = key ? `${route.name}:${key}` : route.name;
    const path = key ? `${route.path}/${key}` : route.path;
    const sentAt = Date.now();
    const began = performance.now();
    const phaseStats = stats.byPhase[phase];
    stats.total++;
    stats.inFlight++;
    stats.byRoute[route.name].total++;
    phaseStats.total++;
    stats.sends[breaker].push(sentAt);
    const done = (status, error) => {
      const latency = performance.now() - began;
      stats.inFlight--;
      stats.answered += status === null ? 0 : 1;
      stats.latencies[stats.latencyCount++] = latency;
      stats.maxLatencyMs = Math.max(stats.maxLatencyMs, latency);
      phaseStats.maxLatencyMs = Math.max(phaseStats.maxLatencyMs, latency);
      const label = status === null ? `no answer (${error})` : String(status);
      stats.byStatus[label] = (stats.byStatus[label] ?? 0) + 1;
      stats.byRoute[route.name].byStatus[label] = (stats.byRoute[route.name].byStatus[label] ?? 0) + 1;
      phaseStats.byStatus[label] = (phaseStats.byStatus[label] ?? 0) + 1;
      if (status === null) stats.errors[error] = (stats.errors[error] ?? 0) + 1;
      if (status === null || latency > limit) {
        stats.violations++;
        const entry = { at: sentAt - t0, replica: run.replicas[replica].id, path, status: label, latency };
        stats.worst.push(entry);
        stats.worst.sort((a, b) => b.latency - a.latency);
        if (stats.worst.length > 10) stats.worst.length = 10;
      }
    };
    const request = pools.traffic[replica]
      .request({ path, method: 'GET' })
      .then(async ({ statusCode, body }) => {
        await body.dump();
        done(statusCode);
      })
      .catch((error) => done(null, error?.code ?? error?.name ?? 'error'))
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  };

  try {
    while (!stop.aborted) {
      await sleep(5, stop).catch(() => {});
      if (stop.aborted) break;
      const now = performance.now();
      const dt = (now - last) / 1_000;
      last = now;
      const t = Date.now() - t0;
      while (phase < plan.phases.length - 1 && t >= plan.phases[phase].to) phase++;
      const rate = rateAt(plan, t);
      if (plan.phases[phase].quiet) {
        credit.fill(0);
        if (pools.traffic !== null && closing === null) {
          const closingPools = pools.traffic;
          pools.traffic = null;
          // Only once the answers are in, so that the replicas see their clients leave before a checkpoint.
          closing = Promise.allSettled([...inFlight]).then(() =>
            Promise.allSettled(closingPools.map((pool) => pool.close())),
          );
          await closing;
          closing = null;
        }
        continue;
      }
      if (pools.traffic === null) pools.traffic = openPools();
      for (const [i] of ROUTES.entries()) {
        // At most a second's worth at once, so a stall of this process does not turn into a burst.
        credit[i] = Math.min(credit[i] + rate * dt, Math.max(1, rate));
        while (credit[i] >= 1) {
          credit[i]--;
          if (stats.total >= maxRequests || stats.inFlight >= MAX_IN_FLIGHT) stats.skipped++;
          else send(i);
        }
      }
    }
  } finally {
    diagnostics.unsubscribe('undici:client:beforeConnect', onBeforeConnect);
    diagnostics.unsubscribe('undici:client:connected', onConnected);
    diagnostics.unsubscribe('undici:client:connectError', onConnectError);
    await Promise.allSettled([...inFlight]);
    if (pools.traffic !== null) {
      const open = pools.traffic;
      pools.traffic = null;
      await Promise.allSettled(open.map((pool) => pool.close()));
    }
  }
}
