// Where a server of http.mjs spends its CPU: `node profile-http.mjs [FRAMEWORK] [VARIANT…]` runs each
// variant's server (http-server.mjs) under V8's sampling profiler (`--cpu-prof`), loads it with
// autocannon from this process (127.0.0.1, bounded in time), and prints the CPU time per request by
// where it went (Breaker's packages, the framework, Node's own code, the garbage collector, the rest)
// and the functions with the most time of their own. Run with BENCH_PROFILE_SECONDS to change the load.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { envInt, num, table } from './lib.mjs';

const SECONDS = envInt('BENCH_PROFILE_SECONDS', 6);
const WARMUP_SECONDS = envInt('BENCH_PROFILE_WARMUP_SECONDS', 3);
const TOP = envInt('BENCH_PROFILE_TOP', 12);
const HOST = '127.0.0.1';
const SERVER = fileURLToPath(new URL('./http-server.mjs', import.meta.url));

/** The part of the code a profile node's function belongs to. */
export function placeOf(callFrame) {
  const { url, functionName } = callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)' || functionName === '(root)') return 'V8 and native';
  if (/[\\/]packages[\\/][^\\/]+[\\/]dist[\\/]|@breaker[\\/]/.test(url)) return 'Breaker';
  if (/node_modules[\\/](\.pnpm[\\/])?(express|koa|router|body-parser|send|finalhandler)/.test(url))
    return 'framework';
  if (url.includes('node_modules')) return 'framework dependencies';
  if (url.startsWith('node:') || url === '') return 'Node';
  return 'bench server';
}

/** Self time per place and per function, in µs, from a `.cpuprofile`. */
export function summarizeProfile(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const places = new Map();
  const functions = new Map();
  for (const [id, micros] of self) {
    const { callFrame } = byId.get(id);
    const place = placeOf(callFrame);
    places.set(place, (places.get(place) ?? 0) + micros);
    if (place === 'idle') continue;
    const file = callFrame.url.split(/[\\/]/).slice(-2).join('/');
    const key = `${callFrame.functionName || '(anonymous)'} ${file}:${callFrame.lineNumber + 1}`;
    const entry = functions.get(key) ?? { key, place, micros: 0 };
    entry.micros += micros;
    functions.set(key, entry);
  }
  return { places, functions: [...functions.values()].sort((a, b) => b.micros - a.micros) };
}

async function profileOne(framework, variant) {
  const dir = mkdtempSync(join(tmpdir(), 'breaker-profile-'));
  const child = spawn(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, SERVER, framework, variant, '0'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise((resolve) => lines.once('line', (line) => resolve(JSON.parse(line))));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const { port } = await next();
    const url = `http://${HOST}:${port}/`;
    const warmup = await load(url, WARMUP_SECONDS);
    const measured = await load(url, SECONDS);
    child.stdin.end();
    await exited;
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`${framework} ${variant}: no profile written`);
    const summary = summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    // The profile covers the warm-up too: per request is over every request the server answered.
    return { ...summary, requests: warmup + measured, rps: measured / SECONDS };
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads `url` for `seconds` and resolves with the count of requests answered. */
function load(url, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 10, duration: seconds, timeout: 5 }, (error, r) => {
      if (error) return reject(error);
      resolve(r.requests.total);
    });
  });
}

export async function run(framework = 'koa', variants = ['empty', 'Breaker']) {
  const rows = [];
  const tops = [];
  for (const variant of variants) {
    const p = await profileOne(framework, variant);
    const perRequest = (micros) => micros / p.requests;
    const busy = [...p.places].filter(([place]) => place !== 'idle').reduce((s, [, m]) => s + m, 0);
    rows.push({ variant, p, busy: perRequest(busy) });
    tops.push(
      `${framework} ${variant}: top functions by own time (then the rest of Breaker's), µs per request\n` +
        table({
          columns: ['function', 'place', 'µs/req'],
          rows: [
            ...p.functions.slice(0, TOP),
            ...p.functions.slice(TOP).filter((f) => f.place === 'Breaker' && perRequest(f.micros) >= 0.01),
          ].map((f) => [f.key, f.place, num(perRequest(f.micros), 2)]),
          align: ['l', 'l', 'r'],
        }),
    );
  }
  const placeNames = [
    'Breaker',
    'framework',
    'framework dependencies',
    'Node',
    'V8 and native',
    'GC',
    'bench server',
  ];
  const report = table({
    columns: ['variant', 'req/s', 'busy µs/req', ...placeNames],
    rows: rows.map(({ variant, p, busy }) => [
      variant,
      num(p.rps),
      num(busy, 2),
      ...placeNames.map((place) => num((p.places.get(place) ?? 0) / p.requests, 2)),
    ]),
  });
  return `${report}\n\n${tops.join('\n\n')}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [framework, ...variants] = process.argv.slice(2);
  console.log(await run(framework, variants.length > 0 ? variants : undefined));
}
