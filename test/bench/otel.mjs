// What OpenTelemetry instrumentation adds to a breaker's call: a closed call and an open rejection,
// bare and under `instrument()` from @breaker/opentelemetry (with and without the duration histogram),
// with the SDK's MeterProvider and an in-memory reader, as a gateway would run it; @breaker/prometheus
// beside it for context. Subjects take turns for ROUNDS rounds, as in micro.mjs. `--out [FILE]` also
// writes the tables to RESULTS-otel.md (or FILE).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BreakerRegistry } from '@breaker/core';
import { instrument } from '@breaker/opentelemetry';
import { collectMetrics } from '@breaker/prometheus';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { loop, sample } from './micro.mjs';
import {
  breathe,
  envInt,
  max,
  median,
  min,
  ns,
  progress,
  ratio,
  renderReport,
  runIfMain,
  table,
} from './lib.mjs';

const ROUNDS = envInt('BENCH_OTEL_ROUNDS', 21);
const WARMUP_ROUNDS = 2;
const HOUR = 3_600_000;
const value = { ok: true };
const succeed = async () => value;
const fail = async () => {
  throw new Error('upstream failed');
};

class QuietReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  async onForceFlush() {}
  async onShutdown() {}
}

/** A registry of one closed and one open breaker, instrumented by `setUp` (or not). */
async function subject(name, setUp) {
  const registry = new BreakerRegistry({ defaults: { failureThreshold: 1, timeout: HOUR } });
  const closed = registry.get(`${name}-closed`);
  const open = registry.get(`${name}-open`);
  const stop = setUp?.(registry);
  await open.fire(fail).catch(() => {});
  return { name, closed, open, stop };
}

/** The subjects, by name; each group of them is measured in a process of its own. */
const SUBJECTS = {
  bare: () => subject('bare'),
  'otel (default)': (meterProvider) =>
    subject('otel (default)', (registry) => instrument(registry, { meterProvider })),
  'otel, durations: true': (meterProvider) =>
    subject('otel, durations: true', (registry) => instrument(registry, { meterProvider, durations: true })),
  prometheus: () =>
    subject('prometheus', (registry) =>
      collectMetrics(registry, { register: new Registry(), prefix: 'bench_' }),
    ),
};
/**
 * Subjects that listen to every call (the duration histograms) change how V8 compiles the breaker's
 * shared code for every breaker in the process: they are measured apart from the default
 * instrumentation, each group beside its own bare breaker.
 */
const GROUPS = [
  ['bare', 'otel (default)'],
  ['bare', 'otel, durations: true', 'prometheus'],
];
const SCENARIOS = [
  { key: 'closed', heading: 'Closed, the call succeeds', call: (s) => () => s.closed.fire(succeed) },
  {
    key: 'open',
    heading: 'Open, the call is turned away (no tracer provider)',
    call: (s) => () => s.open.fire(succeed),
  },
];

/** Measures one group in this process: per scenario and subject, ns per call of each round. */
async function measureGroup(names) {
  const reader = new QuietReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const subjects = [];
  for (const name of names) subjects.push(await SUBJECTS[name](meterProvider));
  const loops = SCENARIOS.map((sc) => subjects.map((s) => loop(`${sc.key} ${s.name}`, sc.call(s))));
  const times = SCENARIOS.map(() => subjects.map(() => []));
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    if (round >= 0 && round % 5 === 0)
      progress(`otel (${names.join(', ')}): round ${round + 1} of ${ROUNDS}`);
    // Every other round in the reverse order, so that no subject always follows the same one.
    const order = subjects.map((_, i) => i);
    if (round % 2 !== 0) order.reverse();
    for (const [c] of SCENARIOS.entries()) {
      for (const i of order) {
        const perCall = await sample(loops[c][i]);
        if (round >= 0) times[c][i].push(perCall);
        await breathe();
      }
    }
    // A collection each round, as an exporter's interval would bring.
    await reader.collect();
  }
  for (const s of subjects) {
    if (s.closed.state !== 'closed' || s.open.state !== 'open') throw new Error(`otel: ${s.name} moved`);
    s.stop?.stop();
  }
  return times;
}

/** Runs each group in a child process and gathers their figures. */
async function measureAll() {
  const dir = mkdtempSync(join(tmpdir(), 'breaker-otel-'));
  try {
    const results = [];
    for (const [g, names] of GROUPS.entries()) {
      const file = join(dir, `group-${g}.json`);
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--group', String(g), '--raw', file], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      results.push({ names, times: JSON.parse(readFileSync(file, 'utf8')) });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run() {
  const groups = await measureAll();
  const figure = (values) => ({ median: median(values), min: min(values), max: max(values) });
  const sections = [];
  const ratios = {};
  for (const [c, sc] of SCENARIOS.entries()) {
    const rows = [];
    for (const [g, { names, times }] of groups.entries()) {
      for (const [i, name] of names.entries()) {
        const f = figure(times[c][i]);
        // The machine's speed drifts between rounds: each round's ratio to its own bare breaker.
        const perRound = figure(times[c][i].map((t, r) => t / times[c][0][r]));
        const label = `${name} (process ${g + 1})`;
        rows.push([
          label,
          ns(f.median),
          ns(f.min),
          ns(f.max),
          ratio(perRound.median),
          `${ratio(perRound.min)}–${ratio(perRound.max)}`,
        ]);
        ratios[`${sc.key} ${name}`] ??= perRound.median;
      }
    }
    sections.push({
      heading: sc.heading,
      table: {
        columns: ['subject', 'median ns/op', 'min', 'max', '× bare (median of rounds)', 'rounds'],
        align: ['l'],
        rows,
      },
    });
  }
  const targets = [
    {
      target: 'closed call, instrumented (default options) ≤ 1.1× bare',
      value: ratios['closed otel (default)'],
      limit: 1.1,
    },
    {
      target: 'open rejection, instrumented (default options) ≤ 1.1× bare',
      value: ratios['open otel (default)'],
      limit: 1.1,
    },
  ].map((t) => ({ ...t, figure: ratio(t.value), met: t.value <= t.limit }));
  return {
    title: 'OpenTelemetry instrumentation (otel.mjs)',
    intro:
      `ns per awaited call; median over ${ROUNDS} interleaved rounds (every other one in reverse order) of each round's median, as in micro.mjs. ` +
      'Each subject is a registry of its own with a closed and an open breaker; "otel" runs `instrument()` with the ' +
      'SDK\'s MeterProvider (2.x) and a reader collected once a round; "prometheus" runs `collectMetrics()` on a ' +
      'prom-client Registry of its own, for context. Subjects that listen to every call run in a second process, ' +
      'each process beside a bare breaker of its own; "× bare" is the median, over rounds, of each round\'s ratio to that bare breaker, with the lowest and highest. No tracer provider is registered.',
    sections,
    targets,
  };
}

const group = process.argv.indexOf('--group');
if (group !== -1) {
  const times = await measureGroup(GROUPS[Number(process.argv[group + 1])]);
  writeFileSync(process.argv[process.argv.indexOf('--raw') + 1], JSON.stringify(times));
}

const at = process.argv.indexOf('--out');
if (group === -1)
  await runIfMain(import.meta, async () => {
    const report = await run();
    if (at !== -1) {
      const next = process.argv[at + 1];
      const here = fileURLToPath(new URL('.', import.meta.url));
      const file = next !== undefined && !next.startsWith('--') ? next : join(here, 'RESULTS-otel.md');
      let commit = 'unknown';
      try {
        commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
          cwd: here,
          encoding: 'utf8',
        }).trim();
      } catch {
        // Not a git checkout: the date and Node version still tell runs apart.
      }
      const targets = table({
        columns: ['target', 'figure', 'verdict'],
        rows: report.targets.map((t) => [t.target, t.figure, t.met ? 'met' : 'MISSED']),
        align: ['l', 'r', 'l'],
      });
      const document = [
        '# Breaker: OpenTelemetry instrumentation cost',
        `${new Date().toISOString()}, commit ${commit}, Node ${process.version}`,
        renderReport(report),
        '## Targets',
        targets,
      ].join('\n\n');
      writeFileSync(file, `${document}\n`);
      progress(`written to ${file}`);
    }
    return report;
  });
