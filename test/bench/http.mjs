// Requests per second, p99 latency and server CPU per request of one small JSON route, for Express 4,
// Express 5 and Koa 3: bare, behind two empty-middleware floors, and behind a breaker. Every variant's
// server runs in a child process of its own (http-server.mjs, on 127.0.0.1), so that no variant shares
// another's JIT state; autocannon loads them from this process. The servers of a framework and mode stay
// up for all its rounds, and the variants take turns (A B C …, then … C B A); every run is bounded in
// time, and the servers exit at the end (or with this process: they exit when their stdin closes).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { envInt, max, median, min, num, progress, ratio, runIfMain } from './lib.mjs';

const ROUNDS = envInt('BENCH_HTTP_ROUNDS', 4);
const SECONDS = envInt('BENCH_HTTP_SECONDS', 2);
const WARMUP_SECONDS = envInt('BENCH_HTTP_WARMUP_SECONDS', 3);
const CONNECTIONS = 10;
const NEVER = 1_000_000_000;
const HOST = '127.0.0.1';
const SERVER = fileURLToPath(new URL('./http-server.mjs', import.meta.url));
const START_LIMIT_MS = 15_000;
const ANSWER_LIMIT_MS = 5_000;

const MODES = [
  { key: 'ok', heading: 'Every request succeeds', failEvery: 0 },
  { key: 'fail', heading: '1 % of requests fail (every 100th answers 500)', failEvery: 100 },
];
const VARIANTS = [
  { key: 'bare', label: 'bare' },
  { key: 'empty', label: 'empty mw' },
  { key: 'close', label: "empty mw + 'close'" },
  { key: 'Breaker', label: 'Breaker' },
  { key: 'opossum', label: 'opossum' },
  { key: 'cockatiel', label: 'cockatiel' },
];
const FRAMEWORKS = [
  { name: 'Express 4', arg: 'express4' },
  { name: 'Express 5', arg: 'express5' },
  { name: 'Koa 3', arg: 'koa' },
];

/** Rejects after `ms` unless `promise` settles first. */
function within(promise, ms, what) {
  let timer;
  const limit = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1_000} s`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Starts one variant's server (http-server.mjs) and resolves once it listens. `ask(command)` sends a
 * line to its stdin and resolves with its JSON answer; `stop()` closes its stdin and waits for it to exit.
 */
async function startServer(framework, variant, failEvery) {
  const what = `${framework.name} ${variant}`;
  const child = spawn(process.execPath, [SERVER, framework.arg, variant, String(failEvery)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting = [];
  let exited;
  const gone = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = code ?? signal;
      for (const waiter of waiting.splice(0)) waiter.reject(new Error(`${what} server exited (${exited})`));
      resolve();
    });
  });
  child.on('error', (error) => {
    for (const waiter of waiting.splice(0)) waiter.reject(error);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter === undefined) return;
    try {
      waiter.resolve(JSON.parse(line));
    } catch (error) {
      waiter.reject(error);
    }
  });
  const next = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const server = {
    child,
    url: undefined,
    async ask(command) {
      if (exited !== undefined) throw new Error(`${what} server exited (${exited})`);
      const answer = next();
      child.stdin.write(`${command}\n`);
      return within(answer, ANSWER_LIMIT_MS, `${what} server, ${command}`);
    },
    async stop() {
      if (exited === undefined) {
        child.stdin.end();
        try {
          await within(gone, ANSWER_LIMIT_MS, `${what} server, exit`);
        } catch {
          child.kill('SIGKILL');
          await gone;
        }
      }
    },
  };
  try {
    const { port } = await within(next(), START_LIMIT_MS, `${what} server, start`);
    server.url = `http://${HOST}:${port}/`;
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** One autocannon run against a server of ours, bounded in time. */
function load(url, seconds) {
  if (!url.startsWith(`http://${HOST}:`)) throw new Error(`refusing to load ${url}: ${HOST} only`);
  return new Promise((resolve, reject) => {
    let timer;
    const instance = autocannon(
      { url, connections: CONNECTIONS, duration: seconds, timeout: 5 },
      (error, r) => {
        clearTimeout(timer);
        if (error) return reject(new Error(`autocannon failed on ${url}: ${error.stack ?? error}`));
        resolve({
          rps: r.requests.total / r.duration,
          p99: r.latency.p99,
          total: r.requests.total,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          statusCodes: r.statusCodeStats,
        });
      },
    );
    timer = setTimeout(
      () => {
        instance.stop();
        reject(new Error(`no result from ${url} within ${seconds + 30} s`));
      },
      (seconds + 30) * 1_000,
    );
  });
}

/** One measured run: the requests autocannon counted, and the server's CPU time over the run. */
async function measure(server, seconds) {
  const before = (await server.ask('cpu')).cpu;
  const result = await load(server.url, seconds);
  const after = (await server.ask('cpu')).cpu;
  result.cpuPerRequest = (after - before) / Math.max(1, result.total);
  return result;
}

/** The runs of one framework in one mode: a server per variant, a warm-up each, then ROUNDS rounds. */
async function runFramework(framework, mode) {
  const servers = {};
  try {
    const started = await Promise.allSettled(
      VARIANTS.map(({ key }) => startServer(framework, key, mode.failEvery)),
    );
    started.forEach((s, i) => {
      if (s.status === 'fulfilled') servers[VARIANTS[i].key] = s.value;
    });
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    for (const { key } of VARIANTS) await load(servers[key].url, WARMUP_SECONDS);
    const runs = Object.fromEntries(VARIANTS.map(({ key }) => [key, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const modeName = mode.key === 'ok' ? 'all succeed' : '1 % fail';
      progress(`http: ${framework.name}, ${modeName}, round ${round + 1} of ${ROUNDS}`);
      const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const { key } of order) {
        const result = await measure(servers[key], SECONDS);
        if (result.errors > 0 || result.timeouts > 0) {
          throw new Error(`${framework.name} ${key}: ${result.errors} errors, ${result.timeouts} timeouts`);
        }
        runs[key].push(result);
      }
    }
    for (const { key } of VARIANTS) {
      const { problem } = await servers[key].ask('check');
      if (problem) throw new Error(`${framework.name}, ${mode.key}: ${problem}`);
      const codes = runs[key].flatMap((r) => Object.keys(r.statusCodes ?? {}));
      if (codes.includes('503')) throw new Error(`${framework.name} ${key} answered 503: a breaker opened`);
    }
    return runs;
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
  }
}

/** Each round's ratio of `list` to `base` (same round), summed up as median, lowest and highest. */
function perRound(list, base, pick) {
  const ratios = list.map((r, i) => pick(r) / pick(base[i]));
  return { median: median(ratios), min: min(ratios), max: max(ratios) };
}

function summarize(runs) {
  const rps = (r) => r.rps;
  const cpu = (r) => r.cpuPerRequest;
  return Object.fromEntries(
    VARIANTS.map(({ key }) => {
      const list = runs[key];
      const total = list.reduce((sum, r) => sum + r.total, 0);
      const non2xx = list.reduce((sum, r) => sum + r.non2xx, 0);
      return [
        key,
        {
          rps: median(list.map(rps)),
          min: min(list.map(rps)),
          max: max(list.map(rps)),
          p99: median(list.map((r) => r.p99)),
          cpu: median(list.map(cpu)),
          vsBare: perRound(list, runs.bare, rps),
          vsEmpty: perRound(list, runs.empty, rps),
          cpuVsBare: perRound(list, runs.bare, cpu),
          cpuVsEmpty: perRound(list, runs.empty, cpu),
          non2xxShare: total === 0 ? 0 : non2xx / total,
        },
      ];
    }),
  );
}

/** `0.97× (0.95–0.99)`: the median of the rounds' ratios, then the lowest and highest. */
const spread = (r) => `${ratio(r.median)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;

export async function run() {
  const results = {};
  for (const mode of MODES) {
    results[mode.key] = {};
    for (const framework of FRAMEWORKS) {
      results[mode.key][framework.name] = summarize(await runFramework(framework, mode));
    }
  }

  const sections = MODES.map((mode) => ({
    heading: mode.heading,
    table: {
      columns: [
        'framework',
        'variant',
        'req/s median',
        'min',
        'max',
        '× bare (rounds)',
        '× empty mw (rounds)',
        'p99 ms',
        'CPU µs/req',
        'CPU × bare',
        'CPU × empty mw (rounds)',
        'non-2xx',
      ],
      align: ['l', 'l'],
      rows: FRAMEWORKS.flatMap((framework) =>
        VARIANTS.map(({ key, label }) => {
          const f = results[mode.key][framework.name][key];
          return [
            framework.name,
            label,
            num(f.rps),
            num(f.min),
            num(f.max),
            spread(f.vsBare),
            spread(f.vsEmpty),
            num(f.p99),
            num(f.cpu, 1),
            ratio(f.cpuVsBare.median),
            spread(f.cpuVsEmpty),
            `${(f.non2xxShare * 100).toFixed(2)} %`,
          ];
        }),
      ),
    },
  }));

  const target = (text, value, limit, atLeast) => ({
    target: text,
    value,
    figure: ratio(value),
    limit,
    met: atLeast ? value >= limit : value <= limit,
  });
  const modeName = (mode) => (mode.key === 'ok' ? 'all succeed' : '1 % fail');
  const targets = [
    ...MODES.flatMap((mode) =>
      FRAMEWORKS.map((framework) => {
        const value = results[mode.key][framework.name].Breaker.vsBare.median;
        return target(`HTTP ≥ 0.98× bare: ${framework.name}, ${modeName(mode)}`, value, 0.98, true);
      }),
    ),
    ...FRAMEWORKS.flatMap((framework) => {
      const breaker = results.ok[framework.name].Breaker;
      return [
        target(
          `HTTP req/s ≥ 0.98× empty middleware: ${framework.name}, all succeed`,
          breaker.vsEmpty.median,
          0.98,
          true,
        ),
        target(
          `HTTP CPU/req ≤ 1.03× empty middleware: ${framework.name}, all succeed`,
          breaker.cpuVsEmpty.median,
          1.03,
          false,
        ),
      ];
    }),
  ];

  const rounds = `${ROUNDS} round${ROUNDS === 1 ? '' : 's'}`;
  return {
    title: 'HTTP (http.mjs)',
    intro:
      `\`GET /\` answering a small JSON. Each variant's server runs in a process of its own ` +
      `(\`http-server.mjs\`, 127.0.0.1), started once per framework and mode and kept for all its ` +
      `rounds; autocannon loads it from the benchmark's process with ${CONNECTIONS} connections, ` +
      `${SECONDS} s per run after a ${WARMUP_SECONDS} s warm-up, ${rounds} in which the variants take ` +
      `turns (every other round in reverse order). req/s and p99 are medians over the rounds; "× bare" ` +
      `and "× empty mw" are the median of each round's ratio to that floor's run of the same round, with ` +
      `the lowest and highest round in brackets. CPU µs/req is the server process's CPU time (user + ` +
      `system, \`process.cpuUsage()\` read by the server before and after a run) divided by the requests ` +
      `autocannon counted. "empty mw" is \`(req, res, next) => next()\` (Koa: \`(ctx, next) => next()\`) ` +
      `before the handler; "empty mw + 'close'" also adds one \`'close'\` listener to the response. ` +
      `Breaker is the framework's \`circuitBreaker({ name: 'bench', failureThreshold: ${num(NEVER)} })\`; ` +
      `opossum (\`timeout: false\`, percentiles off, \`errorThresholdPercentage: 100\`) and cockatiel ` +
      `(\`ConsecutiveBreaker(${num(NEVER)})\`) wrap the handler, a 500 counting as a failure. ` +
      `No breaker opens.`,
    sections,
    results,
    targets,
  };
}

await runIfMain(import.meta, run);
