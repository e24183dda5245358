#!/usr/bin/env node
// Fleet soak: three gateway replicas sharing breakers through a private Redis, in front of a partner that
// flaps, under traffic from one request every few seconds to hundreds a second per route, while Redis is
// killed and restarted empty twice and its pub/sub clients are killed once. Checks five invariants
// throughout (and a clean shutdown) and reports each with its figures; exits 1 if one fails.
//
//   node test/soak/fleet/soak.mjs --duration 600 --out test/soak/fleet/RESULTS.md
//
// As a library: `const result = await runSoak({ duration: SHORT_DURATION_S })`; `result.ok` says whether
// every invariant held, `result.invariants` what failed and by how much, and `result.summary` /
// `result.markdown` hold the report.
//
// This module drives a run (`runSoak`) and holds the command line; the schedule is in plan.mjs, the
// child processes in processes.mjs, the traffic in traffic.mjs, the verdicts in analyse.mjs and
// measures.mjs, and the reports in report.mjs.
import { existsSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { analyse } from './analyse.mjs';
import {
  BREAKERS,
  CALL_TIMEOUT_MS,
  POLL_MS,
  REPLICA_SHUTDOWN_MS,
  ROUTES,
  SHORT_DURATION_S,
  buildPlan,
  expectedRequests,
} from './plan.mjs';
import {
  Children,
  abortError,
  alive,
  ask,
  distIdentity,
  exited,
  freePort,
  pubsubCounts,
  redisCommand,
  sleep,
  startNode,
  startRedis,
} from './processes.mjs';
import { fetchState, newRequestStats, runTraffic } from './traffic.mjs';

export {
  AGREEMENT_LIMIT_MS,
  CALL_TIMEOUT_MS,
  LATENCY_SLACK_MS,
  LEVELS,
  ROUTES,
  SHORT_DURATION_S,
  buildPlan,
} from './plan.mjs';
export { renderMarkdown, renderSummary } from './report.mjs';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Runs the soak and returns its result; never throws for a failed invariant, only for a harness
 * failure or an abort (and then every child is gone before it rejects).
 */
export async function runSoak(options = {}) {
  const duration = options.duration ?? SHORT_DURATION_S;
  const replicaCount = options.replicas ?? 3;
  if (!Number.isInteger(replicaCount) || replicaCount < 2 || replicaCount > 16) {
    throw new RangeError(`replicas must be a whole number from 2 to 16; got ${replicaCount}`);
  }
  const log = options.log ?? (() => {});
  const packagesDir = options.packages ?? `${REPO}packages/`;
  const packages = packagesDir.endsWith('/') ? packagesDir : `${packagesDir}/`;
  for (const name of ['core', 'redis', 'express']) {
    if (!existsSync(`${packages}${name}/dist/index.js`)) {
      throw new Error(`${packages}${name}/dist/index.js is missing: build the packages first`);
    }
  }
  const plan = buildPlan(duration);
  const maxRequests = options.maxRequests ?? Math.ceil(expectedRequests(plan) * 1.5) + 1_000;
  const controller = new AbortController();
  const { signal } = controller;
  const onOuterAbort = () => controller.abort();
  if (options.signal?.aborted) throw abortError();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const children = new Children();
  const onExit = () => children.killAll();
  process.on('exit', onExit);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const pools = { poll: [], traffic: null };
  const background = [];
  const stopLoops = new AbortController();
  const started = new Date();
  const s = (at) => `${(at / 1_000).toFixed(1)} s`;

  const run = {
    plan,
    duration,
    started: started.toISOString(),
    identity: distIdentity(packages),
    replicas: [],
    redis: { port: 0, kills: [], restarts: [], pubsubKills: [], subscribers: [] },
    partner: { modes: [], calls: null },
    polls: [],
    pollErrors: 0,
    checkpoints: { early: [], end: [] },
    requests: newRequestStats(plan),
    lateActions: [],
    runnerLoopDelayMaxMs: 0,
    shutdown: [],
    t0: 0,
    endAt: 0,
  };

  try {
    log(`fleet soak: ${duration} s, ${replicaCount} replicas, packages from ${packages}`);
    const redisPort = await freePort();
    run.redis.port = redisPort;
    let redis = await startRedis(children, redisPort, signal);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    const partner = startNode(children, 'partner.mjs', [], [], signal);
    const partnerPort = await partner.ready;
    const partnerUrl = `http://127.0.0.1:${partnerPort}`;

    const starting = Array.from({ length: replicaCount }, (_, i) => {
      const config = {
        id: `r${i + 1}`,
        redisUrl,
        partnerUrl,
        packages,
        callTimeout: CALL_TIMEOUT_MS,
        routes: ROUTES,
        shutdownMs: REPLICA_SHUTDOWN_MS,
      };
      return startNode(children, 'replica.mjs', [JSON.stringify(config)], ['--expose-gc'], signal);
    });
    const ports = await Promise.all(starting.map((r) => r.ready));
    run.replicas = starting.map((r, i) => ({
      id: `r${i + 1}`,
      port: ports[i],
      child: r.child,
      lines: r.lines,
      cursor: 0,
      transitions: [],
      lostTransitions: 0,
      last: null,
      exitedEarly: null,
    }));
    for (const replica of run.replicas) {
      replica.child.once('exit', (code, sig) => {
        if (!replica.stopping) replica.exitedEarly = { at: Date.now(), code, signal: sig };
      });
    }
    pools.poll = run.replicas.map(
      (r) =>
        new Pool(`http://127.0.0.1:${r.port}`, {
          connections: 1,
          headersTimeout: 2_000,
          bodyTimeout: 2_000,
        }),
    );
    const readyBy = Date.now() + 10_000;
    for (;;) {
      const snapshots = await Promise.all(run.replicas.map((r, i) => fetchState(pools.poll[i], r.cursor)));
      if (snapshots.every((snapshot) => snapshot?.store.connected)) break;
      if (Date.now() > readyBy) throw new Error('the replicas did not connect to Redis within 10 s');
      await sleep(50, signal);
    }
    log(`redis :${redisPort}, partner :${partnerPort}, replicas :${ports.join(', :')}`);

    loopDelay.enable();
    const t0 = Date.now();
    run.t0 = t0;
    let finished = false;

    const poll = async () => {
      const at = Date.now();
      const snapshots = await Promise.all(run.replicas.map((r, i) => fetchState(pools.poll[i], r.cursor)));
      const sample = { at, connected: [], states: {} };
      for (const breaker of BREAKERS) sample.states[breaker.name] = [];
      for (const [i, replica] of run.replicas.entries()) {
        const snapshot = snapshots[i];
        if (snapshot === null) {
          run.pollErrors++;
          sample.connected.push(null);
          for (const breaker of BREAKERS) sample.states[breaker.name].push(undefined);
          continue;
        }
        if (replica.cursor > 0 && snapshot.firstSeq > replica.cursor + 1) {
          replica.lostTransitions += snapshot.firstSeq - replica.cursor - 1;
        }
        replica.transitions.push(...snapshot.transitions);
        replica.cursor = snapshot.seq;
        snapshot.transitions = [];
        replica.last = snapshot;
        sample.connected.push(snapshot.store.connected);
        for (const breaker of BREAKERS)
          sample.states[breaker.name].push(snapshot.breakers[breaker.name]?.state);
      }
      run.polls.push(sample);
    };
    background.push(
      (async () => {
        while (!stopLoops.signal.aborted) {
          const began = Date.now();
          await poll();
          await sleep(POLL_MS - (Date.now() - began), stopLoops.signal).catch(() => {});
        }
      })(),
    );

    background.push(
      runTraffic({ run, plan, pools, t0, maxRequests, stop: stopLoops.signal }).catch((error) => {
        controller.abort();
        throw error;
      }),
    );

    let nextReport = 10_000;
    for (const action of plan.actions) {
      await sleep(t0 + action.at - Date.now(), signal);
      const late = Date.now() - (t0 + action.at);
      if (late > 100) run.lateActions.push({ type: action.type, at: action.at, lateMs: late });
      while (action.at >= nextReport) {
        const r = run.requests;
        log(
          `  t+${s(nextReport)}: ${r.total} requests, ${r.violations} over the deadline, ${r.inFlight} in flight`,
        );
        nextReport += 10_000;
      }
      if (action.type === 'partner') {
        const reply = await ask(partner.child, { type: 'mode', mode: action.mode });
        run.partner.modes.push({ ...action, at: reply.at - t0 });
        log(
          `  t+${s(reply.at - t0)}: partner ${action.heal ? 'healed' : action.mode === 'error' ? 'answers 500s' : 'hangs'}`,
        );
      } else if (action.type === 'redis-kill') {
        redis.kill('SIGKILL');
        await exited(redis, 2_000);
        run.redis.kills.push({ at: Date.now() - t0, cycle: action.cycle });
        log(`  t+${s(Date.now() - t0)}: Redis killed (SIGKILL)`);
      } else if (action.type === 'redis-restart') {
        redis = await startRedis(children, redisPort, signal);
        run.redis.restarts.push({ at: Date.now() - t0, cycle: action.cycle });
        log(`  t+${s(Date.now() - t0)}: Redis restarted empty on :${redisPort}`);
      } else if (action.type === 'pubsub-kill') {
        const reply = await redisCommand(redisPort, ['CLIENT', 'KILL', 'TYPE', 'pubsub']);
        run.redis.pubsubKills.push({
          at: Date.now() - t0,
          killed: reply,
          cycle: action.cycle,
        });
        log(`  t+${s(Date.now() - t0)}: CLIENT KILL TYPE pubsub killed ${reply} clients`);
      } else if (action.type === 'subscribers') {
        const counts = await pubsubCounts(redisPort).catch((error) => ({ error: error.message }));
        run.redis.subscribers.push({ at: Date.now() - t0, after: action.after, counts });
        log(`  t+${s(Date.now() - t0)}: pub/sub subscribers ${JSON.stringify(counts)}`);
      } else if (action.type === 'checkpoint') {
        const snapshots = await Promise.all(
          run.replicas.map((r, i) => fetchState(pools.poll[i], r.cursor, true)),
        );
        run.checkpoints[action.checkpoint].push({ at: Date.now() - t0, snapshots });
      } else if (action.type === 'finish') {
        finished = true;
      }
    }
    if (!finished) throw new Error('the schedule ended early');

    stopLoops.abort();
    await Promise.all(background.splice(0));
    await poll();
    run.endAt = Date.now() - t0;
    run.runnerLoopDelayMaxMs = loopDelay.max / 1e6;
    run.partner.calls = await ask(partner.child, { type: 'stats' })
      .then((reply) => ({ ...reply.calls, hung: reply.hung }))
      .catch(() => null);

    await Promise.all(pools.poll.map((pool) => pool.destroy()));
    pools.poll = [];
    run.shutdown = await Promise.all(
      run.replicas.map(async (replica) => {
        replica.stopping = true;
        const began = Date.now();
        if (!alive(replica.child)) return { id: replica.id, ok: false, detail: 'had already exited' };
        replica.child.kill('SIGTERM');
        const done = await exited(replica.child, REPLICA_SHUTDOWN_MS + 1_000);
        const ms = Date.now() - began;
        const { exitCode, signalCode } = replica.child;
        const detail = done
          ? `exited with ${exitCode ?? signalCode} in ${ms} ms`
          : `still running ${ms} ms after SIGTERM`;
        return { id: replica.id, ok: done && exitCode === 0, ms, detail, stderr: replica.lines.slice(-3) };
      }),
    );
    partner.child.kill('SIGTERM');
    await exited(partner.child, 2_000);
    log('  analysing');
    return analyse(run);
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    controller.abort();
    stopLoops.abort();
    loopDelay.disable();
    await Promise.allSettled(background);
    await Promise.allSettled(
      [...pools.poll, pools.traffic]
        .flat()
        .filter(Boolean)
        .map((p) => p.destroy()),
    );
    await children.close();
    process.off('exit', onExit);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: String(SHORT_DURATION_S) },
      out: { type: 'string' },
      json: { type: 'string' },
      replicas: { type: 'string', default: '3' },
      packages: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      `usage: node test/soak/fleet/soak.mjs [--duration seconds (default ${SHORT_DURATION_S}, the least)] [--out RESULTS.md]\n` +
        '                                   [--json results.json] [--replicas 3] [--packages dir] [--quiet]\n' +
        'Exit code: 0 every invariant held, 1 an invariant failed, 2 the harness failed, 130 interrupted.',
    );
    return 0;
  }
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\ninterrupted: stopping every child process');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runSoak({
      duration: Number(values.duration),
      replicas: Number(values.replicas),
      ...(values.packages ? { packages: values.packages } : {}),
      signal: controller.signal,
      log: values.quiet ? undefined : (line) => console.log(line),
    });
    console.log(`\n${result.summary}`);
    if (values.out) {
      writeFileSync(values.out, `${result.markdown}\n`);
      console.log(`results written to ${values.out}`);
    }
    if (values.json) {
      writeFileSync(
        values.json,
        `${JSON.stringify({ ok: result.ok, invariants: result.invariants, figures: result.figures }, null, 2)}\n`,
      );
    }
    return result.ok ? 0 : 1;
  } catch (error) {
    if (interrupted) return 130;
    console.error(
      `the soak harness failed: ${error instanceof RangeError ? error.message : (error?.stack ?? error)}`,
    );
    return 2;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
