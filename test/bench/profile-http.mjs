// Where a server of http.mjs spends its CPU: `node profile-http.mjs [FRAMEWORK] [MODE] [VARIANT…]` runs each
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
import { envInt, num, onServerCore, pinSelf, progress, runIfMain, table } from './lib.mjs';

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

async function profileOne(framework, mode, variant) {
  const dir = mkdtempSync(join(tmpdir(), 'breaker-profile-'));
  const [command, args] = onServerCore(process.execPath, [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    SERVER,
    framework,
    variant,
    mode,
  ]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
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

const PLACES = [
  'Breaker',
  'framework',
  'framework dependencies',
  'Node',
  'V8 and native',
  'GC',
  'bench server',
];

/** Profiles each variant of one framework and mode: the table of places, and each variant's top functions. */
async function compare(framework, mode, variants) {
  pinSelf();
  const rows = [];
  const tops = [];
  for (const variant of variants) {
    const p = await profileOne(framework, mode, variant);
    const perRequest = (micros) => micros / p.requests;
    const busy = [...p.places].filter(([place]) => place !== 'idle').reduce((s, [, m]) => s + m, 0);
    rows.push([
      variant,
      num(p.rps),
      num(perRequest(busy), 2),
      ...PLACES.map((place) => num(perRequest(p.places.get(place) ?? 0), 2)),
    ]);
    const listed = [
      ...p.functions.slice(0, TOP),
      ...p.functions.slice(TOP).filter((f) => f.place === 'Breaker' && perRequest(f.micros) >= 0.05),
    ];
    tops.push({
      variant,
      rows: listed.map((f) => [f.key, f.place, num(perRequest(f.micros), 2)]),
    });
  }
  return { places: { columns: ['variant', 'req/s', 'busy µs/req', ...PLACES], rows }, tops };
}

/** The comparisons index.mjs records: each framework with every request succeeding, and the open path. */
const RECORDED = [
  ['express4', 'ok', ['empty', 'Breaker']],
  ['express5', 'ok', ['empty', 'Breaker']],
  ['koa', 'ok', ['empty', 'Breaker']],
  ['express5', 'open', ['bare', 'Breaker']],
  ['koa', 'open', ['bare', 'Breaker']],
];

export async function run() {
  const sections = [];
  for (const [framework, mode, variants] of RECORDED) {
    progress(`profile: ${framework}, ${mode}`);
    const { places, tops } = await compare(framework, mode, variants);
    const breaker = tops.find((t) => t.variant === 'Breaker');
    sections.push({
      heading: `${framework}, ${mode}`,
      table: places,
      notes:
        `Breaker's own functions and the busiest of the rest, µs per request:\n\n` +
        table({ columns: ['function', 'place', 'µs/req'], rows: breaker.rows, align: ['l', 'l', 'r'] }),
    });
  }
  return {
    title: 'Where the CPU goes (profile-http.mjs)',
    intro:
      `Each server of http.mjs run under V8's sampling profiler (\`--cpu-prof\`, on the server's core), ` +
      `loaded for ${WARMUP_SECONDS} s, then ${SECONDS} s, by autocannon (10 connections). Time is each ` +
      `function's own time per request answered, summed by place: Breaker's packages, the framework, ` +
      `Node's own JavaScript and native calls (\`writev\` is the socket write, most of a request), V8, ` +
      `the garbage collector, and the bench server's handler. The profiler slows the servers (Express ` +
      `most), so the figures say where time goes, not how fast a server is.`,
    sections,
    targets: [],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--json')) {
    await runIfMain(import.meta, run);
  } else {
    const [framework = 'koa', mode = 'ok', ...variants] = process.argv.slice(2);
    const { places, tops } = await compare(
      framework,
      mode,
      variants.length > 0 ? variants : ['empty', 'Breaker'],
    );
    console.log(table(places));
    for (const { variant, rows } of tops) {
      console.log(
        `\n${framework} ${variant}, µs per request:\n${table({ columns: ['function', 'place', 'µs/req'], rows, align: ['l', 'l', 'r'] })}`,
      );
    }
  }
}
