// Requests per second and p99 latency of one small JSON route, bare and behind a breaker, for
// Express 4, Express 5 and Koa. The servers run here, on 127.0.0.1; autocannon loads them from a
// separate process (loader.mjs). Each framework's variants take turns in rounds, the starting
// variant moving by one each round; every run is bounded in time, and the servers close at the end.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { BreakerRegistry } from '@breaker/core';
import { circuitBreaker as expressBreaker } from '@breaker/express';
import { circuitBreaker as koaBreaker } from '@breaker/koa';
import { circuitBreaker as cockatielBreaker, CircuitState, ConsecutiveBreaker, handleAll } from 'cockatiel';
import express5 from 'express';
import express4 from 'express4';
import Koa from 'koa';
import Opossum from 'opossum';
import { envInt, max, median, min, num, progress, ratio, runIfMain } from './lib.mjs';

const ROUNDS = envInt('BENCH_HTTP_ROUNDS', 3);
const SECONDS = envInt('BENCH_HTTP_SECONDS', 3);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 10;
const NEVER = 1_000_000_000;
const HOST = '127.0.0.1';

const BODY = { ok: true, service: 'bench' };
const FAILED = { ok: false, error: 'upstream failed' };
const serverError = Object.assign(new Error('the handler answered 500'), { status: 500 });
const noop = () => {};

const MODES = [
  { key: 'ok', heading: 'Every request succeeds', failEvery: 0 },
  { key: 'fail', heading: '1 % of requests fail (every 100th answers 500)', failEvery: 100 },
];
const VARIANTS = ['bare', 'Breaker', 'opossum', 'cockatiel'];

/** Whether this request should fail: every `every`th one, or none. */
function failing(every) {
  let n = 0;
  return every > 0 ? () => ++n % every === 0 : () => false;
}

/** The breakers a server uses, and a check that none of them ever opened. */
function guards(variant) {
  const registry = new BreakerRegistry();
  const opossum = new Opossum((work) => work(), {
    name: 'bench',
    timeout: false,
    rollingPercentilesEnabled: false,
    errorThresholdPercentage: 100,
  });
  const cockatiel = cockatielBreaker(handleAll, {
    halfOpenAfter: 10_000,
    breaker: new ConsecutiveBreaker(NEVER),
  });
  const breakerOptions = { name: 'bench', failureThreshold: NEVER, registry };
  return {
    breakerOptions,
    opossum,
    cockatiel,
    check() {
      if (variant === 'Breaker') {
        const breaker = registry.peek('bench');
        if (breaker === undefined) return 'Breaker saw no request';
        const stats = breaker.stats();
        if (stats.state !== 'closed' || stats.counts.rejections > 0) return 'Breaker opened';
      }
      if (variant === 'opossum' && (!opossum.closed || opossum.stats.rejects > 0)) return 'opossum opened';
      if (variant === 'cockatiel' && cockatiel.state !== CircuitState.Closed) return 'cockatiel opened';
      return undefined;
    },
    close() {
      opossum.shutdown();
      registry.dispose();
    },
  };
}

function expressServer(express, variant, failEvery) {
  const app = express();
  const fails = failing(failEvery);
  const g = guards(variant);
  const answer = (res) => {
    if (fails()) {
      res.status(500).json(FAILED);
      return false;
    }
    res.json(BODY);
    return true;
  };
  const guarded = (res) => {
    if (!answer(res)) throw serverError;
  };
  if (variant === 'bare') app.get('/', (req, res) => void answer(res));
  if (variant === 'Breaker') app.get('/', expressBreaker(g.breakerOptions), (req, res) => void answer(res));
  if (variant === 'opossum') app.get('/', (req, res) => void g.opossum.fire(() => guarded(res)).catch(noop));
  if (variant === 'cockatiel') {
    app.get('/', (req, res) => void g.cockatiel.execute(() => guarded(res)).catch(noop));
  }
  return { handler: app, guards: g };
}

function koaServer(variant, failEvery) {
  const app = new Koa();
  const fails = failing(failEvery);
  const g = guards(variant);
  const answer = (ctx) => {
    if (ctx.method !== 'GET' || ctx.path !== '/') return true;
    if (fails()) {
      ctx.status = 500;
      ctx.body = FAILED;
      return false;
    }
    ctx.body = BODY;
    return true;
  };
  const guarded = (ctx) => {
    if (!answer(ctx)) throw serverError;
  };
  if (variant === 'bare') app.use((ctx) => void answer(ctx));
  if (variant === 'Breaker') {
    app.use(koaBreaker(g.breakerOptions));
    app.use((ctx) => void answer(ctx));
  }
  if (variant === 'opossum') app.use((ctx) => g.opossum.fire(() => guarded(ctx)).catch(noop));
  if (variant === 'cockatiel') app.use((ctx) => g.cockatiel.execute(() => guarded(ctx)).catch(noop));
  return { handler: app.callback(), guards: g };
}

const FRAMEWORKS = [
  { name: 'Express 4', make: (variant, failEvery) => expressServer(express4, variant, failEvery) },
  { name: 'Express 5', make: (variant, failEvery) => expressServer(express5, variant, failEvery) },
  { name: 'Koa 3', make: koaServer },
];

async function listen({ handler, guards: g }) {
  const server = createServer(handler);
  server.listen(0, HOST);
  await once(server, 'listening');
  return { server, guards: g, url: `http://${HOST}:${server.address().port}/` };
}

async function close({ server, guards: g }) {
  g.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The load generator: one child process, one autocannon run per request, each bounded in time. */
function startLoader() {
  const child = fork(fileURLToPath(new URL('./loader.mjs', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let next = 0;
  child.on('message', (message) => {
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`autocannon failed: ${message.error}`));
    else waiter.resolve(message);
  });
  child.on('exit', (code, signal) => {
    for (const waiter of pending.values())
      waiter.reject(new Error(`the load generator exited (${code ?? signal})`));
    pending.clear();
  });
  return {
    async load(url, seconds) {
      const id = ++next;
      const limit = (seconds + 30) * 1_000;
      let timer;
      const answer = new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no result from ${url} within ${limit / 1_000} s`));
        }, limit);
      });
      child.send({ id, url, connections: CONNECTIONS, seconds });
      try {
        return await answer;
      } finally {
        clearTimeout(timer);
      }
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

/** The runs of one framework in one mode: warm-ups, then ROUNDS rounds of every variant. */
async function runFramework(loader, framework, mode) {
  const servers = {};
  for (const variant of VARIANTS) servers[variant] = await listen(framework.make(variant, mode.failEvery));
  try {
    for (const variant of VARIANTS) await loader.load(servers[variant].url, WARMUP_SECONDS);
    const runs = Object.fromEntries(VARIANTS.map((variant) => [variant, []]));
    for (let round = 0; round < ROUNDS; round++) {
      progress(
        `http: ${framework.name}, ${mode.key === 'ok' ? 'all succeed' : '1 % fail'}, round ${round + 1} of ${ROUNDS}`,
      );
      for (let i = 0; i < VARIANTS.length; i++) {
        const variant = VARIANTS[(i + round) % VARIANTS.length];
        const cpu = process.cpuUsage();
        const result = await loader.load(servers[variant].url, SECONDS);
        const used = process.cpuUsage(cpu);
        result.cpuPerRequest = (used.user + used.system) / Math.max(1, result.total);
        if (result.errors > 0 || result.timeouts > 0) {
          throw new Error(
            `${framework.name} ${variant}: ${result.errors} errors, ${result.timeouts} timeouts`,
          );
        }
        runs[variant].push(result);
      }
    }
    for (const variant of VARIANTS) {
      const problem = servers[variant].guards.check();
      if (problem !== undefined) throw new Error(`${framework.name}, ${mode.key}: ${problem}`);
      const codes = runs[variant].flatMap((r) => Object.keys(r.statusCodes ?? {}));
      if (codes.includes('503'))
        throw new Error(`${framework.name} ${variant} answered 503: a breaker opened`);
    }
    return runs;
  } finally {
    for (const variant of VARIANTS) await close(servers[variant]);
  }
}

function summarize(runs) {
  const bare = runs.bare;
  return Object.fromEntries(
    VARIANTS.map((variant) => {
      const list = runs[variant];
      const rps = list.map((r) => r.rps);
      const perRound = list.map((r, i) => r.rps / bare[i].rps);
      const total = list.reduce((sum, r) => sum + r.total, 0);
      const non2xx = list.reduce((sum, r) => sum + r.non2xx, 0);
      return [
        variant,
        {
          rps: median(rps),
          min: min(rps),
          max: max(rps),
          p99: median(list.map((r) => r.p99)),
          cpu: median(list.map((r) => r.cpuPerRequest)),
          cpuRatio: median(list.map((r) => r.cpuPerRequest)) / median(bare.map((r) => r.cpuPerRequest)),
          ratio: median(rps) / median(bare.map((r) => r.rps)),
          roundRatios: [min(perRound), max(perRound)],
          non2xxShare: total === 0 ? 0 : non2xx / total,
        },
      ];
    }),
  );
}

export async function run() {
  const loader = startLoader();
  const results = {};
  try {
    for (const mode of MODES) {
      results[mode.key] = {};
      for (const framework of FRAMEWORKS) {
        results[mode.key][framework.name] = summarize(await runFramework(loader, framework, mode));
      }
    }
  } finally {
    loader.stop();
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
        '× bare',
        'rounds × bare',
        'p99 ms',
        'CPU µs/req',
        'CPU × bare',
        'non-2xx',
      ],
      align: ['l', 'l'],
      rows: FRAMEWORKS.flatMap((framework) =>
        VARIANTS.map((variant) => {
          const f = results[mode.key][framework.name][variant];
          return [
            framework.name,
            variant,
            num(f.rps),
            num(f.min),
            num(f.max),
            ratio(f.ratio),
            `${f.roundRatios[0].toFixed(2)}–${f.roundRatios[1].toFixed(2)}`,
            num(f.p99),
            num(f.cpu, 1),
            ratio(f.cpuRatio),
            `${(f.non2xxShare * 100).toFixed(2)} %`,
          ];
        }),
      ),
    },
  }));

  const targets = MODES.flatMap((mode) =>
    FRAMEWORKS.map((framework) => {
      const value = results[mode.key][framework.name].Breaker.ratio;
      return {
        target: `HTTP ≥ 0.98× bare: ${framework.name}, ${mode.key === 'ok' ? 'all succeed' : '1 % fail'}`,
        value,
        figure: ratio(value),
        limit: 0.98,
        met: value >= 0.98,
      };
    }),
  );

  return {
    title: 'HTTP (http.mjs)',
    intro:
      `\`GET /\` answering a small JSON, loaded by autocannon in another process: ${CONNECTIONS} connections, ` +
      `${SECONDS} s per run after a ${WARMUP_SECONDS} s warm-up, ${ROUNDS} rounds with the variants taking turns. ` +
      `req/s and p99 are medians over the rounds; × bare divides medians of the same framework and mode, and ` +
      `"rounds × bare" gives the lowest and highest ratio of a single round. CPU µs/req is the server ` +
      `process's CPU time (user + system) over a run divided by the requests answered, median over the rounds. ` +
      `Breaker is the framework's ` +
      `\`circuitBreaker({ name: 'bench', failureThreshold: ${num(NEVER)} })\`; opossum (\`timeout: false\`, ` +
      `percentiles off, \`errorThresholdPercentage: 100\`) and cockatiel (\`ConsecutiveBreaker(${num(NEVER)})\`) ` +
      `wrap the handler, a 500 counting as a failure. No breaker opens.`,
    sections,
    results,
    targets,
  };
}

await runIfMain(import.meta, run);
