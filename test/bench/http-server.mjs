// One server of http.mjs, in a process of its own: `node http-server.mjs FRAMEWORK VARIANT MODE` listens
// on 127.0.0.1 (a free port), prints `{"port":N}` as its first line on stdout, then answers each line on
// stdin with one JSON line: `cpu` gives process.cpuUsage() (user + system, and user, µs) and the requests the
// server has seen, `check` whether its breaker behaved as the mode expects. It exits when its stdin closes (the
// parent is gone) or on SIGTERM.
//
// Modes: `ok` (every request answers 200), `fail` (every 100th answers 500), `open` (the breaker is open
// and answers 503; `bare` answers the same problem itself), `hangup` (the handler answers after
// HANGUP_DELAY_MS, by which time the client has gone).
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const HOST = '127.0.0.1';
const NEVER = 1_000_000_000;
const HOUR = 3_600_000;
const HANGUP_DELAY_MS = 50;
const BODY = { ok: true, service: 'bench' };
const FAILED = { ok: false, error: 'upstream failed' };
const serverError = Object.assign(new Error('the handler answered 500'), { status: 500 });
const noop = () => {};

const [frameworkName, variant, mode] = process.argv.slice(2);
const FRAMEWORKS = ['express4', 'express5', 'koa'];
const MODES = {
  ok: ['bare', 'empty', 'close', 'Breaker', 'opossum', 'cockatiel'],
  fail: ['bare', 'empty', 'close', 'Breaker', 'opossum', 'cockatiel'],
  open: ['bare', 'Breaker'],
  hangup: ['bare', 'empty', 'close', 'Breaker'],
};
if (!FRAMEWORKS.includes(frameworkName) || !MODES[mode]?.includes(variant)) {
  console.error(`usage: node http-server.mjs ${FRAMEWORKS.join('|')} VARIANT ok|fail|open|hangup`);
  process.exit(2);
}
const failEvery = mode === 'fail' ? 100 : 0;

/** Whether this request should fail: every `every`th one, or none. */
function failing(every) {
  let n = 0;
  return every > 0 ? () => ++n % every === 0 : () => false;
}

/** The one breaker this variant uses (none for the floors), and a check that it never opened. */
async function guard() {
  if (variant === 'Breaker' && mode === 'open') {
    // Tripped by one failure, open for an hour: every request takes the open path.
    const { BreakerRegistry } = await import('@breaker/core');
    const registry = new BreakerRegistry();
    const breaker = registry.get('bench', { failureThreshold: 1, timeout: HOUR });
    await breaker.fire(() => Promise.reject(new Error('down'))).catch(noop);
    return {
      options: { name: 'bench', registry },
      check: () => (breaker.state !== 'open' ? `Breaker is ${breaker.state}, not open` : undefined),
      close: () => registry.dispose(),
    };
  }
  if (variant === 'Breaker') {
    const { BreakerRegistry } = await import('@breaker/core');
    const registry = new BreakerRegistry();
    return {
      options: { name: 'bench', failureThreshold: NEVER, registry },
      check() {
        const breaker = registry.peek('bench');
        if (breaker === undefined) return 'Breaker saw no request';
        const stats = breaker.stats();
        if (stats.state !== 'closed' || stats.counts.rejections > 0) return 'Breaker opened';
        if (mode === 'hangup' && stats.counts.ignored === 0) return 'Breaker saw no hang-up';
        return undefined;
      },
      close: () => registry.dispose(),
    };
  }
  if (variant === 'opossum') {
    const { default: Opossum } = await import('opossum');
    const opossum = new Opossum((work) => work(), {
      name: 'bench',
      timeout: false,
      rollingPercentilesEnabled: false,
      errorThresholdPercentage: 100,
    });
    return {
      fire: (work) => opossum.fire(work),
      check: () => (!opossum.closed || opossum.stats.rejects > 0 ? 'opossum opened' : undefined),
      close: () => opossum.shutdown(),
    };
  }
  if (variant === 'cockatiel') {
    const { circuitBreaker, CircuitState, ConsecutiveBreaker, handleAll } = await import('cockatiel');
    const policy = circuitBreaker(handleAll, {
      halfOpenAfter: 10_000,
      breaker: new ConsecutiveBreaker(NEVER),
    });
    return {
      fire: (work) => policy.execute(work),
      check: () => (policy.state !== CircuitState.Closed ? 'cockatiel opened' : undefined),
      close: noop,
    };
  }
  return { check: () => undefined, close: noop };
}

/** The 503 a hand-written handler answers while its upstream is known to be down: the same problem as Breaker's. */
const openUntil = Date.now() + HOUR;
function openProblem() {
  const retryAfter = Math.max(1, Math.ceil((openUntil - Date.now()) / 1_000));
  const problem = {
    type: 'urn:breaker:problem:circuit-open',
    title: 'Circuit breaker open',
    status: 503,
    detail: `Circuit breaker "bench" is open because its upstream is failing; retry in ${retryAfter} s.`,
    breaker: 'bench',
    retryAfter,
  };
  return {
    headers: {
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      'retry-after': String(retryAfter),
    },
    body: JSON.stringify(problem),
  };
}

async function expressApp(g) {
  const { default: express } = await import(frameworkName === 'express4' ? 'express4' : 'express');
  const app = express();
  const fails = failing(failEvery);
  const answer = (res) => {
    if (mode === 'open') {
      const { headers, body } = openProblem();
      res.writeHead(503, headers).end(body);
      return true;
    }
    if (mode === 'hangup') {
      setTimeout(() => {
        if (!res.destroyed) res.json(BODY);
      }, HANGUP_DELAY_MS);
      return true;
    }
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
  const handler = (req, res) => void answer(res);
  if (variant === 'bare') app.get('/', handler);
  if (variant === 'empty') app.get('/', (req, res, next) => next(), handler);
  if (variant === 'close') {
    app.get(
      '/',
      (req, res, next) => {
        res.on('close', noop);
        next();
      },
      handler,
    );
  }
  if (variant === 'Breaker') {
    const { circuitBreaker } = await import('@breaker/express');
    app.get('/', circuitBreaker(g.options), handler);
  }
  if (variant === 'opossum' || variant === 'cockatiel') {
    app.get('/', (req, res) => void g.fire(() => guarded(res)).catch(noop));
  }
  return app;
}

async function koaApp(g) {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  const fails = failing(failEvery);
  const answer = (ctx) => {
    if (ctx.method !== 'GET' || ctx.path !== '/') return true;
    if (mode === 'open') {
      const { headers, body } = openProblem();
      ctx.status = 503;
      ctx.set(headers);
      ctx.body = body;
      return true;
    }
    if (mode === 'hangup') {
      // Koa answers once the middleware's promise settles: the handler waits, then answers if it still can.
      return new Promise((resolve) => setTimeout(resolve, HANGUP_DELAY_MS)).then(() => {
        ctx.body = BODY;
        return true;
      });
    }
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
  if (variant === 'empty') app.use((ctx, next) => next());
  if (variant === 'close') {
    app.use((ctx, next) => {
      ctx.res.on('close', noop);
      return next();
    });
  }
  if (variant === 'Breaker') {
    const { circuitBreaker } = await import('@breaker/koa');
    app.use(circuitBreaker(g.options));
  }
  if (variant === 'opossum' || variant === 'cockatiel') {
    app.use((ctx) => g.fire(() => guarded(ctx)).catch(noop));
  } else {
    app.use((ctx) => answer(ctx));
  }
  return app.callback();
}

const g = await guard();
const handler = frameworkName === 'koa' ? await koaApp(g) : await expressApp(g);
const server = createServer(handler);
let requests = 0;
server.on('request', () => requests++);
server.listen(0, HOST);
await once(server, 'listening');

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  g.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
}
process.on('SIGTERM', stop);

const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
say({ port: server.address().port });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'cpu') {
    const { user, system } = process.cpuUsage();
    say({ cpu: user + system, user, requests });
  } else if (line === 'check') say({ problem: g.check() ?? null });
  else say({ error: `unknown command ${line}` });
});
lines.on('close', stop);
