#!/usr/bin/env node
// Chaos run: an Express gateway and a Koa gateway (breaker middleware, undici interceptor and streaming
// proxy) in front of a partner that fails in every way a TCP peer can, the fault changing every few
// seconds, under clients that hang up at random; then a fuzz of both proxies with raw requests. Checks
// six invariants (and a clean shutdown) and reports each with its figures; exits 1 if one fails.
//
//   node test/chaos/chaos.mjs --duration 600 --out test/chaos/RESULTS.md
//
// As a library: `const result = await runChaos({ duration: SHORT_DURATION_S })`; `result.ok` says
// whether every invariant held, `result.invariants` what failed and by how much, and `result.summary` /
// `result.markdown` hold the report.
//
// This module drives a run; the schedule is in plan.mjs, the partner's faults in faults.mjs, the child
// processes in processes.mjs, the clients in traffic.mjs and wire.mjs, the fuzz in fuzz.mjs, the verdicts
// in analyse.mjs and leaks.mjs, and the reports in report.mjs.
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { analyse } from './analyse.mjs';
import { runFuzz } from './fuzz.mjs';
import {
  CHECKPOINT_OFFSETS_MS,
  GATEWAYS,
  GATEWAY_SHUTDOWN_MS,
  LONG_FUZZ_CASES,
  SHORT_DURATION_S,
  SHORT_FUZZ_CASES,
  buildPlan,
  prng,
} from './plan.mjs';
import {
  Children,
  abortError,
  alive,
  ask,
  distIdentity,
  exited,
  freePort,
  sleep,
  startNode,
} from './processes.mjs';
import { Traffic } from './traffic.mjs';

export { CALL_TIMEOUT_MS, LATENCY_SLACK_MS, SHORT_DURATION_S, SHORT_FUZZ_CASES, buildPlan } from './plan.mjs';
export { renderMarkdown, renderSummary } from './report.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PROGRESS_MS = 10_000;

/**
 * Runs the chaos test and returns its result; never throws for a failed invariant, only for a harness
 * failure or an abort (and then every child is gone before it rejects).
 */
export async function runChaos(options = {}) {
  const duration = options.duration ?? SHORT_DURATION_S;
  const seed = options.seed ?? randomInt(2 ** 31);
  const fuzzCases = options.fuzzCases ?? (duration <= 60 ? SHORT_FUZZ_CASES : LONG_FUZZ_CASES);
  const log = options.log ?? (() => {});
  const packagesDir = options.packages ?? `${REPO}packages/`;
  const packages = packagesDir.endsWith('/') ? packagesDir : `${packagesDir}/`;
  for (const name of ['core', 'express', 'koa', 'undici']) {
    if (!existsSync(`${packages}${name}/dist/index.js`)) {
      throw new Error(`${packages}${name}/dist/index.js is missing: build the packages first`);
    }
  }
  const plan = buildPlan(duration, seed);
  const controller = new AbortController();
  const { signal } = controller;
  const onOuterAbort = () => controller.abort();
  if (options.signal?.aborted) throw abortError();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const children = new Children();
  const onExit = () => children.killAll();
  process.on('exit', onExit);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const stopTraffic = new AbortController();
  let trafficDone = Promise.resolve();
  const began = Date.now();
  const run = {
    plan,
    seed,
    duration,
    fuzzCases,
    marker: `PARTNER-SECRET-${randomBytes(6).toString('hex')}`,
    started: new Date(began).toISOString(),
    identity: distIdentity(packages),
    phases: [],
    records: [],
    samples: { leaks: [], broken: [] },
    skipped: 0,
    given: new Map(),
    partnerStats: null,
    gateways: Object.fromEntries(GATEWAYS.map((name) => [name, { last: null, exitedEarly: null }])),
    checkpoints: { early: [], end: [] },
    fuzz: null,
    shutdown: [],
    runnerLoopDelayMaxMs: 0,
    elapsedMs: 0,
    machine: { cpus: cpus().length, loadBefore: loadavg(), loadAfter: null },
  };

  try {
    log(`chaos run: ${duration} s, seed ${seed}, packages from ${packages}`);
    const partnerPort = await freePort({ stable: true });
    const partnerConfig = { port: partnerPort, marker: run.marker, seed };
    const partner = startNode(children, 'partner.mjs', [JSON.stringify(partnerConfig)], [], signal);
    await partner.ready;
    const askPartner = (message, timeoutMs) =>
      ask(partner.child, message, timeoutMs).catch((error) => {
        throw new Error(`${error.message}; the partner's last words: ${partner.lines.slice(-10).join('\n')}`);
      });
    const gatewayConfig = JSON.stringify({ partnerUrl: `http://127.0.0.1:${partnerPort}`, packages });
    const starting = GATEWAYS.map((name) =>
      startNode(children, `gateway-${name}.mjs`, [gatewayConfig], ['--expose-gc'], signal),
    );
    const portList = await Promise.all(starting.map((g) => g.ready));
    const ports = Object.fromEntries(GATEWAYS.map((name, i) => [name, portList[i]]));
    const child = Object.fromEntries(GATEWAYS.map((name, i) => [name, starting[i].child]));
    const stopping = new Set();
    for (const name of GATEWAYS) {
      child[name].once('exit', (code, sig) => {
        if (!stopping.has(name))
          run.gateways[name].exitedEarly = { at: Date.now() - began, code, signal: sig };
      });
    }
    log(`partner :${partnerPort}, gateways ${GATEWAYS.map((name) => `${name} :${ports[name]}`).join(', ')}`);
    const state = async (gc) => {
      const replies = await Promise.all(
        GATEWAYS.map((name) => (alive(child[name]) ? ask(child[name], { type: 'state', gc }, 5_000) : null)),
      );
      return Object.fromEntries(GATEWAYS.map((name, i) => [name, replies[i]]));
    };

    loopDelay.enable();
    const t0 = Date.now();
    const traffic = new Traffic({
      ports,
      marker: run.marker,
      random: prng(seed ^ 0x7a11),
      phase: () => run.phases.length - 1,
      t0,
    });
    trafficDone = traffic.run(stopTraffic.signal);
    const progress = setInterval(async () => {
      const states = await state(false).catch(() => ({}));
      const open = GATEWAYS.map((name) => `${name} ${states[name]?.open.unanswered ?? '?'}`).join(', ');
      log(
        `  t+${((Date.now() - t0) / 1_000).toFixed(0)} s: ${traffic.records.length} requests, ` +
          `${traffic.inFlight} in flight; unanswered at the gateways: ${open}`,
      );
    }, PROGRESS_MS);
    progress.unref();

    try {
      for (const stage of plan.stages) {
        const stageAt = Date.now();
        log(`  t+${((stageAt - t0) / 1_000).toFixed(1)} s: ${stage.name}`);
        if (stage.fuzz) {
          traffic.on = false;
          await traffic.drain();
          run.fuzz = await runFuzz({
            ports,
            seed,
            cases: fuzzCases,
            marker: run.marker,
            signal,
            alive: (name) => alive(child[name]),
          });
          log(
            `    ${run.fuzz.cases} fuzz cases in ${(run.fuzz.durationMs / 1_000).toFixed(1)} s, ${run.fuzz.failed} failed`,
          );
          continue;
        }
        traffic.on = stage.traffic;
        const steps = [
          ...(stage.phases ?? []).map((phase) => ({ at: phase.at, phase })),
          ...(stage.checkpoint
            ? CHECKPOINT_OFFSETS_MS.map((at) => ({ at, checkpoint: stage.checkpoint }))
            : []),
        ].sort((a, b) => a.at - b.at);
        for (const step of steps) {
          await sleep(stageAt + step.at - Date.now(), signal);
          if (step.phase) {
            const { mode, ratio } = step.phase;
            const reply = await askPartner({ type: 'mode', mode, ratio }, 5_000);
            run.phases.push({ stage: stage.name, mode, ratio, at: reply.at - t0 });
          } else {
            run.checkpoints[step.checkpoint].push({ at: Date.now() - t0, snapshots: await state(true) });
          }
        }
        await sleep(stageAt + stage.ms - Date.now(), signal);
      }
    } finally {
      clearInterval(progress);
      stopTraffic.abort();
      await trafficDone;
    }
    Object.assign(run, { records: traffic.records, samples: traffic.samples, skipped: traffic.skipped });
    run.runnerLoopDelayMaxMs = loopDelay.max / 1e6;
    const last = await state(false);
    for (const name of GATEWAYS) run.gateways[name].last = last[name];
    run.partnerStats = await askPartner({ type: 'stats' }).catch(() => null);
    const given = await askPartner({ type: 'given' }, 10_000).catch(() => null);
    if (given !== null) {
      for (const [id, codes] of given.given)
        run.given.set(
          id,
          [codes].flat().map((code) => given.codes[code]),
        );
    }

    run.shutdown = await Promise.all(
      GATEWAYS.map(async (name) => {
        stopping.add(name);
        const gateway = child[name];
        const at = Date.now();
        if (!alive(gateway)) return { name, ok: false, detail: 'had already exited' };
        gateway.kill('SIGTERM');
        const done = await exited(gateway, GATEWAY_SHUTDOWN_MS + 1_000);
        const took = Date.now() - at;
        const { exitCode, signalCode } = gateway;
        const detail = done
          ? `exited with ${exitCode ?? signalCode} in ${took} ms`
          : `still running ${took} ms after SIGTERM`;
        const lines = starting[GATEWAYS.indexOf(name)].lines;
        return { name, ok: done && exitCode === 0, detail, stderr: lines.slice(-3) };
      }),
    );
    partner.child.kill('SIGTERM');
    await exited(partner.child, 2_000);
    run.elapsedMs = Date.now() - began;
    run.machine.loadAfter = loadavg();
    log('  analysing');
    return analyse(run);
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    controller.abort();
    stopTraffic.abort();
    loopDelay.disable();
    await trafficDone.catch(() => {});
    await children.close();
    process.off('exit', onExit);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: String(SHORT_DURATION_S) },
      seed: { type: 'string' },
      'fuzz-cases': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      packages: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      `usage: node test/chaos/chaos.mjs [--duration seconds (default ${SHORT_DURATION_S}, the least)] [--seed n]\n` +
        '                              [--fuzz-cases n] [--out RESULTS.md] [--json results.json] [--packages dir] [--quiet]\n' +
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
    const result = await runChaos({
      duration: Number(values.duration),
      ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
      ...(values['fuzz-cases'] === undefined ? {} : { fuzzCases: Number(values['fuzz-cases']) }),
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
      `the chaos harness failed: ${error instanceof RangeError ? error.message : (error?.stack ?? error)}`,
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
