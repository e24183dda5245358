// Requests per second, p99 latency and server CPU per request of one small JSON route, for Express 4,
// Express 5 and Koa 3: bare, behind two empty-middleware floors, and behind a breaker. Every variant's
// server runs in a child process of its own (http-server.mjs, on 127.0.0.1), so that no variant shares
// another's JIT state; autocannon loads them from this process. The servers of a framework and mode stay
// up for all its rounds, and the variants take turns (A B C …, then … C B A); every run is bounded in
// time, and the servers exit at the end (or with this process: they exit when their stdin closes).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { get as httpGet } from 'node:http';
import autocannon from 'autocannon';
import { envInt, max, median, min, num, onServerCore, pinSelf, progress, ratio, runIfMain } from './lib.mjs';

const ROUNDS = envInt('BENCH_HTTP_ROUNDS', 4);
const SECONDS = envInt('BENCH_HTTP_SECONDS', 2);
const WARMUP_SECONDS = envInt('BENCH_HTTP_WARMUP_SECONDS', 3);
const CONNECTIONS = 10;
const NEVER = 1_000_000_000;
/** In the hang-up storm: the client hangs up this long after sending; the handler answers after 50 ms. */
const HANG_UP_AFTER_MS = 5;
const HOST = '127.0.0.1';
const SERVER = fileURLToPath(new URL('./http-server.mjs', import.meta.url));
const START_LIMIT_MS = 15_000;
const ANSWER_LIMIT_MS = 5_000;

const ALL = [
  { key: 'bare', label: 'bare' },
  { key: 'empty', label: 'empty mw' },
  { key: 'close', label: "empty mw + 'close'" },
  { key: 'Breaker', label: 'Breaker' },
  { key: 'opossum', label: 'opossum' },
  { key: 'cockatiel', label: 'cockatiel' },
];
const pick = (...keys) => ALL.filter(({ key }) => keys.includes(key));
const MODES = [
  { key: 'ok', name: 'all succeed', heading: 'Every request succeeds', variants: ALL },
  {
    key: 'fail',
    name: '1 % fail',
    heading: '1 % of requests fail (every 100th answers 500)',
    variants: ALL,
  },
  {
    key: 'open',
    name: 'open',
    heading: "Open: every request is turned away with the breaker's 503",
    variants: [
      { key: 'bare', label: 'bare, its own 503' },
      { key: 'Breaker', label: 'Breaker, open' },
    ],
  },
  {
    key: 'hangup',
    name: 'hang-up storm',
    heading: 'Hang-up storm: every client hangs up before the answer',
    variants: pick('bare', 'empty', 'close', 'Breaker'),
    storm: true,
  },
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
async function startServer(framework, variant, mode) {
  const what = `${framework.name} ${variant} (${mode})`;
  const [command, args] = onServerCore(process.execPath, [SERVER, framework.arg, variant, mode]);
  const child = spawn(command, args, {
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

/**
 * The hang-up storm: CONNECTIONS clients, each sending one request at a time on a new connection and
 * hanging up HANG_UP_AFTER_MS after it is sent, long before the handler answers; bounded in time.
 */
async function storm(url, seconds) {
  if (!url.startsWith(`http://${HOST}:`)) throw new Error(`refusing to load ${url}: ${HOST} only`);
  const { hostname, port } = new URL(url);
  const deadline = performance.now() + seconds * 1_000;
  let sent = 0;
  let answered = 0;
  const one = () =>
    new Promise((resolve) => {
      let timer;
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const request = httpGet({ host: hostname, port, path: '/', agent: false });
      request.on('error', done);
      request.on('close', done);
      request.on('response', (response) => {
        answered++;
        response.resume();
      });
      request.on('finish', () => {
        timer = setTimeout(() => request.destroy(), HANG_UP_AFTER_MS);
      });
    });
  const client = async () => {
    while (performance.now() < deadline) {
      sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, client));
  return { rps: sent / seconds, p99: Number.NaN, total: sent, answered, non2xx: 0, errors: 0, timeouts: 0 };
}

/** One measured run: the load, and the server's CPU time over the requests it saw. */
async function measure(server, seconds, mode) {
  const before = await server.ask('cpu');
  const result = await (mode.storm ? storm(server.url, seconds) : load(server.url, seconds));
  const after = await server.ask('cpu');
  result.served = after.requests - before.requests;
  result.cpuPerRequest = (after.cpu - before.cpu) / Math.max(1, result.served);
  result.userPerRequest = (after.user - before.user) / Math.max(1, result.served);
  return result;
}

/** The runs of one framework in one mode: a server per variant, a warm-up each, then ROUNDS rounds. */
async function runFramework(framework, mode) {
  const variants = mode.variants;
  const servers = {};
  try {
    const started = await Promise.allSettled(
      variants.map(({ key }) => startServer(framework, key, mode.key)),
    );
    started.forEach((s, i) => {
      if (s.status === 'fulfilled') servers[variants[i].key] = s.value;
    });
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    for (const { key } of variants) await measure(servers[key], WARMUP_SECONDS, mode);
    const runs = Object.fromEntries(variants.map(({ key }) => [key, []]));
    for (let round = 0; round < ROUNDS; round++) {
      progress(`http: ${framework.name}, ${mode.name}, round ${round + 1} of ${ROUNDS}`);
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const { key } of order) {
        const result = await measure(servers[key], SECONDS, mode);
        if (result.errors > 0 || result.timeouts > 0) {
          throw new Error(`${framework.name} ${key}: ${result.errors} errors, ${result.timeouts} timeouts`);
        }
        runs[key].push(result);
      }
    }
    for (const { key } of variants) {
      const { problem } = await servers[key].ask('check');
      if (problem) throw new Error(`${framework.name}, ${mode.name}: ${problem}`);
      const codes = new Set(runs[key].flatMap((r) => Object.keys(r.statusCodes ?? {})));
      const expected = mode.key === 'open' ? ['503'] : mode.key === 'fail' ? ['200', '500'] : ['200'];
      const unexpected = [...codes].filter((code) => !expected.includes(code));
      if (unexpected.length > 0)
        throw new Error(`${framework.name} ${key} (${mode.name}) answered ${unexpected}`);
      if (mode.storm && runs[key].some((r) => r.answered > r.total / 100)) {
        throw new Error(`${framework.name} ${key}: clients of the hang-up storm got answers`);
      }
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

function summarize(runs, variants) {
  const rps = (r) => r.rps;
  const cpu = (r) => r.cpuPerRequest;
  const user = (r) => r.userPerRequest;
  const floor = runs.empty ?? runs.bare;
  return Object.fromEntries(
    variants.map(({ key }) => {
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
          user: median(list.map(user)),
          vsBare: perRound(list, runs.bare, rps),
          vsEmpty: perRound(list, floor, rps),
          cpuVsBare: perRound(list, runs.bare, cpu),
          cpuVsEmpty: perRound(list, floor, cpu),
          userVsEmpty: perRound(list, floor, user),
          non2xxShare: total === 0 ? 0 : non2xx / total,
        },
      ];
    }),
  );
}

/** `0.97× (0.95–0.99)`: the median of the rounds' ratios, then the lowest and highest. */
const spread = (r) => `${ratio(r.median)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;

/** Only these modes and frameworks, when BENCH_HTTP_MODES / BENCH_HTTP_FRAMEWORKS list them (comma-separated). */
function chosen(list, variable, keyOf) {
  const wanted = process.env[variable]
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted === undefined || wanted.length === 0) return list;
  const picked = list.filter((item) => wanted.includes(keyOf(item)));
  if (picked.length === 0)
    throw new Error(`${variable}=${process.env[variable]} names none of ${list.map(keyOf)}`);
  return picked;
}

export async function run() {
  const modes = chosen(MODES, 'BENCH_HTTP_MODES', (mode) => mode.key);
  const frameworks = chosen(FRAMEWORKS, 'BENCH_HTTP_FRAMEWORKS', (framework) => framework.arg);
  const node = `Node ${process.version}`;
  const pinned = pinSelf();
  const results = {};
  for (const mode of modes) {
    results[mode.key] = {};
    for (const framework of frameworks) {
      results[mode.key][framework.name] = summarize(await runFramework(framework, mode), mode.variants);
    }
  }

  const sections = modes.map((mode) => {
    const floor = mode.variants.some(({ key }) => key === 'empty');
    const columns = [
      'framework',
      'variant',
      'req/s median',
      'min',
      'max',
      '× bare (rounds)',
      ...(floor ? ['× empty mw (rounds)'] : []),
      'p99 ms',
      'CPU µs/req',
      'user µs/req',
      'CPU × bare (rounds)',
      ...(floor ? ['CPU × empty mw (rounds)', 'user × empty mw (rounds)'] : []),
    ];
    return {
      heading: `${mode.heading} (${node})`,
      table: {
        columns,
        align: ['l', 'l'],
        rows: frameworks.flatMap((framework) =>
          mode.variants.map(({ key, label }) => {
            const f = results[mode.key][framework.name][key];
            return [
              framework.name,
              label,
              num(f.rps),
              num(f.min),
              num(f.max),
              spread(f.vsBare),
              ...(floor ? [spread(f.vsEmpty)] : []),
              mode.storm ? '–' : num(f.p99),
              num(f.cpu, 1),
              num(f.user, 1),
              spread(f.cpuVsBare),
              ...(floor ? [spread(f.cpuVsEmpty), spread(f.userVsEmpty)] : []),
            ];
          }),
        ),
      },
    };
  });

  const target = (text, value, limit, atLeast) => ({
    target: `${text} (${node})`,
    value,
    figure: ratio(value),
    limit,
    met: atLeast ? value >= limit : value <= limit,
  });
  const targets = [];
  for (const mode of modes) {
    for (const framework of frameworks) {
      const breaker = results[mode.key][framework.name].Breaker;
      const where = `${framework.name}, ${mode.name}`;
      if (mode.key === 'ok' || mode.key === 'fail') {
        targets.push(
          target(`HTTP req/s ≥ 0.98× empty middleware: ${where}`, breaker.vsEmpty.median, 0.98, true),
          target(`HTTP CPU/req ≤ 1.03× empty middleware: ${where}`, breaker.cpuVsEmpty.median, 1.03, false),
        );
      }
      if (mode.key === 'open') {
        targets.push(
          target(
            `HTTP open 503 req/s ≥ 0.95× a bare 503: ${framework.name}`,
            breaker.vsBare.median,
            0.95,
            true,
          ),
        );
      }
      if (mode.key === 'hangup') {
        targets.push(
          target(
            `HTTP hang-up storm CPU/req ≤ 1.1× empty middleware: ${framework.name}`,
            breaker.cpuVsEmpty.median,
            1.1,
            false,
          ),
        );
      }
    }
  }

  const rounds = `${ROUNDS} round${ROUNDS === 1 ? '' : 's'}`;
  return {
    title: `HTTP (http.mjs, ${node})`,
    intro:
      `\`GET /\` answering a small JSON. Each variant's server runs in a process of its own ` +
      `(\`http-server.mjs\`, 127.0.0.1), started once per framework and mode and kept for all its ` +
      `rounds; the load comes from the benchmark's process, ${CONNECTIONS} connections, ${SECONDS} s per ` +
      `run after a ${WARMUP_SECONDS} s warm-up, ${rounds} in which the variants take turns (every other ` +
      `round in reverse order). req/s and p99 are medians over the rounds; "× bare" and "× empty mw" are ` +
      `the median of each round's ratio to that floor's run of the same round, with the lowest and highest ` +
      `round in brackets. ${pinned ? 'The load generator runs on CPU 0 and every server on CPU 1 (`taskset`). ' : ''}` +
      `CPU µs/req is the server process's CPU time (user + system, \`process.cpuUsage()\` read by the ` +
      `server before and after a run) divided by the requests the server saw in that run; user µs/req ` +
      `leaves out the kernel's time (sockets), where the variants do the same work. "empty mw" is \`(req, res, next) => next()\` (Koa: \`(ctx, next) => next()\`) ` +
      `before the handler; "empty mw + 'close'" also adds one \`'close'\` listener to the response. ` +
      `Breaker is the framework's \`circuitBreaker({ name: 'bench', failureThreshold: ${num(NEVER)} })\`; ` +
      `opossum (\`timeout: false\`, percentiles off, \`errorThresholdPercentage: 100\`) and cockatiel ` +
      `(\`ConsecutiveBreaker(${num(NEVER)})\`) wrap the handler, a 500 counting as a failure; autocannon ` +
      `loads them. In "open", Breaker's breaker was tripped before the run and stays open for an hour, so ` +
      `every request gets its 503 problem; "bare" answers the same problem document, headers and ` +
      `\`Retry-After\` from its own handler. In the hang-up storm, each client sends one request at a ` +
      `time on a new connection and hangs up ${HANG_UP_AFTER_MS} ms after sending it; the handler would ` +
      `answer after 50 ms, so no request is answered and Breaker counts each as a hang-up.`,
    sections,
    results,
    targets,
  };
}

await runIfMain(import.meta, run);
