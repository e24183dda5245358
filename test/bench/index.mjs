// Runs micro.mjs, after504.mjs, memory.mjs, http.mjs (on Node 20, then its main tables on Node 22 and 24),
// profile-http.mjs, proxy.mjs, policies.mjs, otel.mjs, fleet.mjs and redis-scale.mjs, each in a process of
// its own and bounded in time, prints their tables and writes them, with the machine and the versions
// measured, to RESULTS.md. The other Nodes come from the npm registry's `node` package, through npx.
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
  { file: 'http.mjs', args: [], limitMs: 16 * 60_000 },
  { file: 'http.mjs', args: [], limitMs: 12 * 60_000, node: '22', env: { BENCH_HTTP_MODES: 'ok,fail' } },
  { file: 'http.mjs', args: [], limitMs: 12 * 60_000, node: '24', env: { BENCH_HTTP_MODES: 'ok,fail' } },
  { file: 'profile-http.mjs', args: [], limitMs: 6 * 60_000 },
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
// Settings that pnpm hands its scripts as npm_config_* variables and npm does not know: npx would warn.
const pnpmOnly = /^npm_config_(verify_deps_before_run|npm_globalconfig|_jsr_registry)$/i;
const npxEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !pnpmOnly.test(key)));

/** Runs one script as a child process, on this Node or on `node@major`; resolves with its JSON report. */
function runScript({ file, args, limitMs, node, env }, dir) {
  const out = join(dir, `${file}${node ?? ''}.json`);
  const scriptArgs = [...args, join(here, file), '--json', out];
  const [command, commandArgs] =
    node === undefined
      ? [process.execPath, scriptArgs]
      : ['npx', ['-y', '-p', `node@${node}`, 'node', ...scriptArgs]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, {
      cwd: here,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...npxEnv, ...env },
      // Its own process group, so that a script that runs too long is stopped with the servers it started.
      detached: true,
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      reject(new Error(`${file} did not finish within ${limitMs / 1_000} s`));
    }, limitMs);
    // Stopping the benchmarks stops the script's group too.
    const stop = (signal) => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    child.on('exit', () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    });
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
    const file = script.node === undefined ? script.file : `${script.file} (Node ${script.node})`;
    reports.push({ ...report, file, seconds: (performance.now() - t0) / 1_000 });
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
