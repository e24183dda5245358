// What the Redis store costs Redis per replica and breaker, in fleets of 1 to 100 replicas of 10 to 500
// breakers: steady success, 1 % failures, half-open with traffic, a correlated trip and start-up, and
// the extrapolation to 100 × 1,000 and 1,000 × 100 as a share of one Redis. Starts its own
// redis-server. `--out [FILE]` also writes the tables, with the machine and the build measured, to
// RESULTS-scale.md (or FILE).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envInt, progress, renderReport, runIfMain, table } from './lib.mjs';
import { startRedis, RedisProbe } from './scale/redis.mjs';
import { buildReport } from './scale/report.mjs';
import { correlatedTrip, failures, halfOpen, startup, steady } from './scale/scenarios.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Fleets as `NxB` pairs, e.g. BENCH_SCALE_FLEETS=1x50,5x50. */
function fleets() {
  const text = process.env.BENCH_SCALE_FLEETS ?? '1x500,5x50,20x50,20x100,100x10,100x20';
  return text.split(',').map((pair) => {
    const [replicas, breakers] = pair.trim().split('x').map(Number);
    if (!(replicas >= 1 && breakers >= 1)) throw new Error(`BENCH_SCALE_FLEETS: "${pair}" is not NxB`);
    return { replicas, breakers };
  });
}

/** How long the busy start-up holds the process: longer than the store's default command timeout. */
const BUSY_MS = 1_500;

const config = {
  fleets: fleets(),
  rate: envInt('BENCH_SCALE_RATE', 20),
  // Long enough for two reconciliations (5 s) in steady success, and for two of the longest holds of
  // counts (a quarter of the 60 s window) at 1 % failures, so that periodic work is measured whole.
  seconds: envInt('BENCH_SCALE_SECONDS', 12),
  failureSeconds: envInt('BENCH_SCALE_FAILURE_SECONDS', 32),
  halfOpenSeconds: envInt('BENCH_SCALE_HALF_OPEN_SECONDS', 2),
  warmup: 2,
  freshSeconds: 3,
  tripWarmup: 1.5,
  busyMs: BUSY_MS,
  failureShare: 0.01,
};

export async function run() {
  const started = performance.now();
  const redis = await startRedis();
  const probe = new RedisProbe(redis.url);
  const measured = [];
  let calibration;
  try {
    await probe.start();
    await probe.measureIdle();
    calibration = { ...(await probe.calibrate(redis.url)), idleUsPerSecond: probe.idleUsPerSecond };
    for (const { replicas, breakers } of config.fleets) {
      const name = `${replicas} × ${breakers}`;
      progress(`${name}: start-up with the process held ${BUSY_MS} ms`);
      const busy = await startup({
        url: redis.url,
        replicas,
        breakers,
        rate: config.rate,
        probe,
        busyMs: BUSY_MS,
      });
      await busy.fleet.close();
      progress(`${name}: start-up`);
      const { fleet, result: startupResult } = await startup({
        url: redis.url,
        replicas,
        breakers,
        rate: config.rate,
        probe,
      });
      try {
        progress(`${name}: steady success, ${config.seconds} s`);
        const steadyResult = await steady(fleet, probe, { ...config, warmup: 1 });
        progress(`${name}: 1 % failures, ${config.freshSeconds + config.warmup + config.failureSeconds} s`);
        const failuresResult = await failures(fleet, probe, {
          ...config,
          seconds: config.failureSeconds,
          share: config.failureShare,
        });
        progress(`${name}: half-open`);
        const halfOpenResult = await halfOpen(fleet, probe, { seconds: config.halfOpenSeconds });
        progress(`${name}: correlated trip`);
        const tripResult = await correlatedTrip(fleet, probe, { warmup: config.tripWarmup });
        measured.push({
          replicas,
          breakers,
          startup: startupResult,
          busyStartup: busy.result,
          steady: steadyResult,
          failures: failuresResult,
          halfOpen: halfOpenResult,
          trip: tripResult,
        });
      } finally {
        await fleet.close();
      }
    }
  } finally {
    await probe.close();
    redis.stop();
  }
  return buildReport({
    measured,
    calibration,
    config,
    seconds: (performance.now() - started) / 1_000,
    redisVersion: redis.version,
  });
}

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: here, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The machine, the commit, and a digest of the built store, so that two runs can be told apart. */
function header(startLoad) {
  const built = (pkg) => {
    try {
      const file = fileURLToPath(import.meta.resolve(`@breaker/${pkg}`));
      const digest = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
      const shown = relative(join(here, '../..'), realpathSync(file));
      return `${digest} (${shown.startsWith('..') ? realpathSync(file) : shown})`;
    } catch {
      return 'not built';
    }
  };
  const dirty =
    git('status', '--porcelain', '--', '../../packages') === ''
      ? ''
      : ', with uncommitted changes under packages/';
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(', ');
  const rows = [
    ...(process.env.BENCH_SCALE_LABEL ? [['label', process.env.BENCH_SCALE_LABEL]] : []),
    ['date', new Date().toISOString()],
    ['commit', `${git('rev-parse', '--short', 'HEAD')}${dirty}`],
    ['@breaker/redis build (sha-256 of its entry)', built('redis')],
    ['@breaker/core build (sha-256 of its entry)', built('core')],
    ['cores', String(availableParallelism())],
    ['load average at start (1, 5, 15 min)', startLoad],
    ['load average at end', load()],
    ['Node', process.version],
  ];
  return [
    '# Breaker: the Redis store at scale',
    table({ columns: ['run', ''], rows, align: ['l', 'l'] }),
  ].join('\n\n');
}

function summary(targets) {
  const rows = targets.map((t) => [t.target, t.figure, t.met ? 'met' : 'MISSED']);
  return [
    '## Targets',
    table({ columns: ['target', 'figure', 'verdict'], rows, align: ['l', 'r', 'l'] }),
  ].join('\n\n');
}

const at = process.argv.indexOf('--out');
const startLoad = loadavg()
  .map((l) => l.toFixed(2))
  .join(', ');
let finished;
await runIfMain(import.meta, async () => {
  const report = await run();
  finished = report;
  if (at !== -1) {
    const next = process.argv[at + 1];
    const file = next !== undefined && !next.startsWith('--') ? next : join(here, 'RESULTS-scale.md');
    const document = [header(startLoad), renderReport(report), summary(report.targets)].join('\n\n');
    writeFileSync(file, `${document}\n`);
    progress(`written to ${file}`);
  }
  return report;
});
if (finished !== undefined) console.log(`${summary(finished.targets)}\n`);
