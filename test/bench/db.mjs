// What a breaker around a database query costs: `SELECT 1` through `guardPool()` from @breaker/drivers
// (`db.query('SELECT 1')`) against the bare `pool.query('SELECT 1')` of the same node-postgres pool
// (max 4), on the PostgreSQL of this machine (127.0.0.1:5432, database postgres, user $PGUSER or root).
// Each query is timed with process.hrtime.bigint(), one at a time and with 4 in flight. The two variants
// take turns for ROUNDS rounds of ROUND_MS each, every other round in the reverse order; each figure is the
// median over rounds, with the lowest and highest round. `--out [FILE]` also writes the tables, with the
// machine, to RESULTS-db.md (or FILE).
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { guardPool } from '@breaker/drivers';
import {
  breathe,
  envInt,
  max,
  cpuModel,
  measuredCommit,
  median,
  min,
  num,
  progress,
  renderReport,
  runIfMain,
  table,
} from './lib.mjs';

const ROUNDS = envInt('BENCH_DB_ROUNDS', 7);
const ROUND_MS = envInt('BENCH_DB_ROUND_MS', 2_000);
const WARMUP_MS = Math.min(ROUND_MS, 1_000);
const POOL_SIZE = 4;
const TARGET = 1.02;
const here = fileURLToPath(new URL('.', import.meta.url));

const MODES = [
  { key: 'sequential', heading: 'One query at a time', inFlight: 1 },
  { key: 'concurrent', heading: `${POOL_SIZE} queries in flight`, inFlight: POOL_SIZE },
];

/** The nearest-rank percentile of sorted values. */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Runs `query` for `ms` from `inFlight` loops at once; each loop starts its next query when the last one
 * answers. Returns every query's latency in ns, sorted.
 */
async function measure(query, inFlight, ms) {
  const latencies = [];
  const deadline = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < deadline) {
      const start = process.hrtime.bigint();
      await query();
      latencies.push(Number(process.hrtime.bigint() - start));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return Float64Array.from(latencies).sort();
}

function loadNow() {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

function version(name) {
  try {
    return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

const loadBefore = loadNow();
let serverVersion = 'unknown';

export async function run() {
  const pool = new pg.Pool({
    host: '127.0.0.1',
    port: 5432,
    database: 'postgres',
    user: process.env.PGUSER ?? 'root',
    max: POOL_SIZE,
  });
  let poolErrors = 0;
  pool.on('error', () => poolErrors++);
  const db = guardPool(pool, { name: 'bench' });
  const VARIANTS = [
    { label: "bare `pool.query('SELECT 1')`", query: () => pool.query('SELECT 1') },
    { label: "guarded `db.query('SELECT 1')`", query: () => db.query('SELECT 1') },
  ];
  // figures[mode][variant]: per round, { p50, p99, qps }.
  const figures = MODES.map(() => VARIANTS.map(() => []));
  try {
    serverVersion = (await pool.query('SHOW server_version')).rows[0].server_version;
    // A warm-up round, not counted: every connection of the pool open, and both paths compiled.
    for (const mode of MODES) for (const v of VARIANTS) await measure(v.query, mode.inFlight, WARMUP_MS);
    for (let round = 0; round < ROUNDS; round++) {
      progress(`db: round ${round + 1} of ${ROUNDS}`);
      // Every other round in the reverse order, so that neither variant always goes first.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const [m, mode] of MODES.entries()) {
        for (const v of order) {
          const sorted = await measure(VARIANTS[v].query, mode.inFlight, ROUND_MS);
          figures[m][v].push({
            p50: percentile(sorted, 50),
            p99: percentile(sorted, 99),
            qps: (sorted.length * 1_000) / ROUND_MS,
          });
          await breathe();
        }
      }
    }
    const { state, counts } = db.breaker.stats();
    if (state !== 'closed' || counts.failures > 0 || poolErrors > 0) {
      const why = `breaker ${state}, ${counts.failures} failures, ${poolErrors} pool errors`;
      throw new Error(`db: the run was not clean (${why})`);
    }
  } finally {
    await pool.end();
  }

  const us = (value) => num(value / 1_000, 1);
  // Three decimals: the target is 1.02×.
  const times = (value) => (Number.isFinite(value) ? `${value.toFixed(3)}×` : '–');
  const spread = (values, format) => `${format(min(values))}–${format(max(values))}`;
  const sections = [];
  const targets = [];
  for (const [m, mode] of MODES.entries()) {
    const [bare, guarded] = figures[m];
    const rows = VARIANTS.map((v, i) => {
      const rounds = figures[m][i];
      const p50 = rounds.map((r) => r.p50);
      const p99 = rounds.map((r) => r.p99);
      const qps = rounds.map((r) => r.qps);
      return [v.label, us(median(p50)), spread(p50, us), us(median(p99)), spread(p99, us), num(median(qps))];
    });
    // The machine's speed drifts between rounds: each round's guarded figure over its own bare one.
    const per = (key) => guarded.map((g, r) => g[key] / bare[r][key]);
    rows.push([
      'guarded ÷ bare (per round)',
      times(median(per('p50'))),
      spread(per('p50'), times),
      times(median(per('p99'))),
      spread(per('p99'), times),
      times(median(per('qps'))),
    ]);
    sections.push({
      heading: mode.heading,
      table: {
        columns: ['variant', 'p50 µs', 'p50 rounds', 'p99 µs', 'p99 rounds', 'queries/s'],
        align: ['l'],
        rows,
      },
    });
    for (const key of ['p50', 'p99']) {
      const value = median(per(key));
      targets.push({
        target: `${mode.key}, ${key}: guarded ≤ ${TARGET}× bare`,
        figure: times(value),
        met: value <= TARGET,
      });
    }
  }
  return {
    title: 'A guarded query against a bare one (db.mjs)',
    intro:
      `Latency of \`SELECT 1\` on one node-postgres pool (max ${POOL_SIZE}) to the local PostgreSQL, each query ` +
      `timed with process.hrtime.bigint(): bare \`pool.query()\` against \`guardPool(pool, { name: 'bench' })\`. ` +
      `${ROUNDS} rounds of ${num(ROUND_MS)} ms per variant and mode, the variants taking turns (every other round ` +
      "in the reverse order), after an uncounted warm-up. Figures are the median over rounds of each round's " +
      'percentile, with the lowest and highest round; "guarded ÷ bare" is the median over rounds of each ' +
      "round's ratio to the bare figure of the same round.",
    sections,
    targets,
  };
}

function targetsTable(targets) {
  return table({
    columns: ['target', 'figure', 'verdict'],
    rows: targets.map((t) => [t.target, t.figure, t.met ? 'met' : 'MISSED']),
    align: ['l', 'r', 'l'],
  });
}

const at = process.argv.indexOf('--out');
let finished;
await runIfMain(import.meta, async () => {
  const report = await run();
  finished = report;
  if (at !== -1) {
    const next = process.argv[at + 1];
    const file = next !== undefined && !next.startsWith('--') ? next : join(here, 'RESULTS-db.md');
    const rows = [
      ['date', new Date().toISOString()],
      ['commit', measuredCommit()],
      ['CPU', cpuModel()],
      ['cores', String(availableParallelism())],
      ['load average before (1, 5, 15 min)', loadBefore],
      ['load average after', loadNow()],
      ['Node', process.version],
      ['pg (node-postgres)', version('pg')],
      ['@breaker/drivers', version('@breaker/drivers')],
      ['PostgreSQL server', serverVersion],
    ];
    const met = report.targets.every((t) => t.met);
    const document = [
      '# Breaker: the cost of a guarded database query',
      table({ columns: ['machine and versions', ''], rows, align: ['l', 'l'] }),
      renderReport(report),
      '## Targets',
      `Target: a guarded query at most ${TARGET}× the bare one at p50 and at p99, one at a time and with ` +
        `${POOL_SIZE} in flight. ${met ? 'Met.' : 'Not met.'}`,
      targetsTable(report.targets),
    ].join('\n\n');
    writeFileSync(file, `${document}\n`);
    progress(`written to ${file}`);
  }
  return report;
});
if (finished !== undefined) console.log(`${targetsTable(finished.targets)}\n`);
