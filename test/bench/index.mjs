// Runs micro.mjs, after504.mjs, memory.mjs, http.mjs, proxy.mjs, policies.mjs, otel.mjs, fleet.mjs and redis-scale.mjs, each in a process of its own and bounded
// in time, prints their tables and writes them, with the machine and the versions measured, to RESULTS.md.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuModel, measuredCommit, num, renderReport, table } from './lib.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));

const SCRIPTS = [
  { file: 'micro.mjs', args: [], limitMs: 3 * 60_000 },
  { file: 'after504.mjs', args: [], limitMs: 3 * 60_000 },
  { file: 'memory.mjs', args: ['--expose-gc'], limitMs: 3 * 60_000 },
  { file: 'http.mjs', args: [], limitMs: 8 * 60_000 },
  { file: 'proxy.mjs', args: [], limitMs: 4 * 60_000 },
  { file: 'policies.mjs', args: [], limitMs: 2 * 60_000 },
  { file: 'otel.mjs', args: [], limitMs: 2 * 60_000 },
  { file: 'fleet.mjs', args: [], limitMs: 2 * 60_000 },
  { file: 'redis-scale.mjs', args: [], limitMs: 10 * 60_000 },
];

const LIBRARIES = [
  '@breaker/core',
  '@breaker/express',
  '@breaker/koa',
  '@breaker/redis',
  '@breaker/opentelemetry',
  '@opentelemetry/sdk-metrics',
  'opossum',
  'cockatiel',
  'mitata',
  'autocannon',
  'express',
  'express4',
  'koa',
  'undici',
  'http-proxy-middleware',
];

function version(name) {
  try {
    return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

function header(started) {
  const rows = [
    ['date', started.toISOString()],
    ['commit', measuredCommit()],
    ['CPU', cpuModel()],
    ['cores', String(availableParallelism())],
    ['memory', `${num(totalmem() / 2 ** 30, 1)} GiB`],
    ['load average at start (1, 5, 15 min)', load()],
    ['Node', process.version],
    ...LIBRARIES.map((name) => [name, version(name)]),
  ];
  return [
    '# Breaker benchmarks',
    table({ columns: ['machine and versions', ''], rows, align: ['l', 'l'] }),
  ].join('\n\n');
}

/** Runs one script as a child process; resolves with its JSON report. */
function runScript({ file, args, limitMs }, dir) {
  const out = join(dir, `${file}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, join(here, file), '--json', out], {
      cwd: here,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not finish within ${limitMs / 1_000} s`));
    }, limitMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${file} failed (${code ?? signal})`));
      resolve(JSON.parse(readFileSync(out, 'utf8')));
    });
  });
}

function summary(reports, seconds, endLoad) {
  const rows = reports.flatMap((r) => r.targets.map((t) => [t.target, t.figure, t.met ? 'met' : 'MISSED']));
  return [
    '## Targets',
    table({ columns: ['target', 'Breaker', 'verdict'], rows, align: ['l', 'r', 'l'] }),
    `Benchmarks took ${num(seconds)} s (${reports.map((r) => `${r.file} ${num(r.seconds)} s`).join(', ')}); ` +
      `load average at the end: ${endLoad}.`,
  ].join('\n\n');
}

const started = new Date();
const head = header(started);
console.log(`${head}\n`);
const dir = mkdtempSync(join(tmpdir(), 'breaker-bench-'));
const reports = [];
try {
  for (const script of SCRIPTS) {
    const t0 = performance.now();
    const report = await runScript(script, dir);
    reports.push({ ...report, file: script.file, seconds: (performance.now() - t0) / 1_000 });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const total = (Date.now() - started.getTime()) / 1_000;
const tail = summary(reports, total, load());
console.log(`${tail}\n`);

const document = [head, ...reports.map(renderReport), tail].join('\n\n');
writeFileSync(join(here, 'RESULTS.md'), `${document}\n`);
console.log(`Written to ${join(here, 'RESULTS.md')}`);
