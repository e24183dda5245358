import http from 'node:http';
import { getEventListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Agent, Client, Pool, fetch, request, stream, type Dispatcher } from 'undici';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerOpenError, BreakerRegistry, CallTimeoutError } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { circuitBreaker, UpstreamStatusError } from '@breaker/undici';

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((fn) => fn()));
});

async function partner(route: Route) {
  const stats = { requests: 0, connections: 0 };
  const server = http.createServer((req, res) => {
    stats.requests++;
    route(req, res);
  });
  server.on('connection', () => stats.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { origin: `http://127.0.0.1:${port}`, stats };
}

function agent(
  options: ConstructorParameters<typeof Agent>[0] = {},
  breaker: Parameters<typeof circuitBreaker>[0] = {},
) {
  const interceptor = circuitBreaker(breaker);
  const base = new Agent({ keepAliveTimeout: 10, ...options });
  cleanup.push(() => base.close());
  return { dispatcher: base.compose(interceptor), interceptor, base };
}

const status =
  (code: number, headers: Record<string, string> = {}): Route =>
  (_req, res) => {
    res.writeHead(code, headers).end(`status ${code}`);
  };

async function statusOf(url: string, dispatcher: Dispatcher): Promise<number | unknown> {
  try {
    const { statusCode, body } = await request(url, { dispatcher });
    await body.dump();
    return statusCode;
  } catch (error) {
    return error;
  }
}

describe('the undici interceptor', () => {
  it('keeps one breaker per origin: a failing partner opens, another stays closed', async () => {
    const failing = await partner(status(500));
    const healthy = await partner(status(200));
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 2 });
    expect(await statusOf(`${failing.origin}/a`, dispatcher)).toBe(500);
    expect(await statusOf(`${failing.origin}/b`, dispatcher)).toBe(500);
    const rejected = await statusOf(`${failing.origin}/c`, dispatcher);
    expect(rejected).toBeInstanceOf(BreakerOpenError);
    expect((rejected as BreakerOpenError).breaker).toBe(failing.origin);
    expect(await statusOf(`${healthy.origin}/`, dispatcher)).toBe(200);
    expect(interceptor.registry.peek(failing.origin)!.state).toBe('open');
    expect(interceptor.registry.peek(healthy.origin)!.state).toBe('closed');
  });

  it('while open fails at once without opening a socket', async () => {
    const failing = await partner(status(502));
    const { dispatcher } = agent({ pipelining: 0 }, { failureThreshold: 1 });
    await statusOf(failing.origin, dispatcher);
    const connections = failing.stats.connections;
    const requests = failing.stats.requests;
    for (let i = 0; i < 20; i++)
      expect(await statusOf(failing.origin, dispatcher)).toBeInstanceOf(BreakerOpenError);
    expect(failing.stats.requests).toBe(requests);
    expect(failing.stats.connections).toBe(connections);
  });

  it('works through fetch, where the rejection is the cause of its TypeError', async () => {
    const failing = await partner(status(500));
    const { dispatcher } = agent({}, { failureThreshold: 1 });
    const first = await fetch(failing.origin, { dispatcher });
    await first.arrayBuffer();
    expect(first.status).toBe(500);
    const error = await fetch(failing.origin, { dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).cause).toBeInstanceOf(BreakerOpenError);
  });

  it('works with stream() and records a completed body as a success', async () => {
    const healthy = await partner(status(200));
    const { dispatcher, interceptor } = agent();
    const chunks: Buffer[] = [];
    await stream(
      healthy.origin,
      { dispatcher, method: 'GET' },
      () =>
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            chunks.push(chunk);
            callback();
          },
        }),
    );
    expect(Buffer.concat(chunks).toString()).toBe('status 200');
    expect(interceptor.registry.peek(healthy.origin)!.stats().counts.successes).toBe(1);
  });

  it('composes onto Client and Pool too', async () => {
    const failing = await partner(status(500));
    for (const base of [new Client(failing.origin), new Pool(failing.origin)]) {
      cleanup.push(() => base.close());
      const dispatcher = base.compose(circuitBreaker({ failureThreshold: 1 }));
      expect(await statusOf(failing.origin, dispatcher)).toBe(500);
      expect(await statusOf(failing.origin, dispatcher)).toBeInstanceOf(BreakerOpenError);
    }
  });

  it('counts a refused connection as a failure', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 2 });
    const origin = `http://127.0.0.1:${port}`;
    const first = await statusOf(origin, dispatcher);
    expect((first as { code?: string }).code).toBe('ECONNREFUSED');
    await statusOf(origin, dispatcher);
    expect(await statusOf(origin, dispatcher)).toBeInstanceOf(BreakerOpenError);
    expect(interceptor.registry.peek(origin)!.stats().counts.failures).toBe(2);
  });

  it('counts a connection reset mid-body as a failure', async () => {
    const resetting = await partner((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 1 });
    const { body } = await request(resetting.origin, { dispatcher });
    await expect(body.text()).rejects.toThrow();
    expect(interceptor.registry.peek(resetting.origin)!.state).toBe('open');
  });

  it("counts undici's headers timeout on a hung partner as a failure", async () => {
    const hanging = await partner(() => {});
    const { dispatcher, interceptor } = agent({ headersTimeout: 100 }, { failureThreshold: 1 });
    const error = await statusOf(hanging.origin, dispatcher);
    expect((error as { code?: string }).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(interceptor.registry.peek(hanging.origin)!.state).toBe('open');
  });

  it('aborts at callTimeout with CallTimeoutError when headers are slow', async () => {
    const clock = new ManualClock();
    let arrived!: () => void;
    const requested = new Promise<void>((resolve) => (arrived = resolve));
    const slow = await partner(() => arrived());
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 1, callTimeout: 250, clock });
    const pending = statusOf(slow.origin, dispatcher);
    await requested;
    clock.advance(250);
    const error = await pending;
    expect(error).toBeInstanceOf(CallTimeoutError);
    const breaker = interceptor.registry.peek(slow.origin)!;
    expect(breaker.stats().counts).toMatchObject({ failures: 1, timeouts: 1 });
    expect(clock.pendingTimers).toBe(1); // the open timer only
  });

  it('a 503 with Retry-After opens the breaker for that long, capped by maxTimeout', async () => {
    const busy = await partner(status(503, { 'retry-after': '30' }));
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 5, maxTimeout: 60_000 });
    expect(await statusOf(busy.origin, dispatcher)).toBe(503);
    const breaker = interceptor.registry.peek(busy.origin)!;
    expect(breaker.state).toBe('open');
    expect(breaker.stats().retryAfterMs).toBeGreaterThan(29_000);
    expect(breaker.stats().retryAfterMs).toBeLessThanOrEqual(30_000);

    const longer = await partner(status(503, { 'retry-after': '86400' }));
    await statusOf(longer.origin, dispatcher);
    expect(interceptor.registry.peek(longer.origin)!.stats().retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('a 429 with an HTTP-date Retry-After opens the breaker; a bare 429 does not count', async () => {
    const date = new Date(Date.now() + 20_000).toUTCString();
    const limited = await partner((req, res) => {
      if (req.url === '/dated') res.writeHead(429, { 'retry-after': date }).end();
      else res.writeHead(429).end();
    });
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 1, key: (opts) => String(opts.path) });
    expect(await statusOf(`${limited.origin}/bare`, dispatcher)).toBe(429);
    expect(interceptor.registry.peek('/bare')!.state).toBe('closed');
    expect(await statusOf(`${limited.origin}/dated`, dispatcher)).toBe(429);
    const breaker = interceptor.registry.peek('/dated')!;
    expect(breaker.state).toBe('open');
    expect(breaker.stats().retryAfterMs).toBeGreaterThan(15_000);
  });

  it('isFailure decides per status; the failure carries the status', async () => {
    const missing = await partner(status(404));
    const failures: unknown[] = [];
    const registry = new BreakerRegistry();
    registry.on('add', ({ breaker }) => breaker.on('failure', (event) => failures.push(event.error)));
    const { dispatcher } = agent({}, { registry, failureThreshold: 1, isFailure: (code) => code === 404 });
    expect(await statusOf(missing.origin, dispatcher)).toBe(404);
    expect(failures[0]).toBeInstanceOf(UpstreamStatusError);
    expect(failures[0]).toMatchObject({ status: 404 });
    expect(registry.peek(missing.origin)!.state).toBe('open');
  });

  it("a caller's abort counts neither way and leaves no listener on its signal", async () => {
    let arrived!: () => void;
    const requested = new Promise<void>((resolve) => (arrived = resolve));
    const slow = await partner(() => arrived());
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 1 });
    const controller = new AbortController();
    const pending = request(slow.origin, { dispatcher, signal: controller.signal }).catch((e: unknown) => e);
    await requested;
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    const breaker = interceptor.registry.peek(slow.origin)!;
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().counts).toMatchObject({ failures: 0, ignored: 1 });

    const healthy = await partner(status(200));
    const signal = new AbortController().signal;
    expect(await statusOf(healthy.origin, dispatcher)).toBe(200);
    const { body } = await request(healthy.origin, { dispatcher, signal });
    await body.dump();
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('with every keyed breaker open, new keys share an overflow breaker that still trips', async () => {
    const failing = await partner(status(500));
    const { dispatcher, interceptor } = agent(
      {},
      { name: 'partner', maxKeys: 2, failureThreshold: 1, key: (opts) => String(opts.path) },
    );
    for (const path of ['/a', '/b']) expect(await statusOf(`${failing.origin}${path}`, dispatcher)).toBe(500);
    expect(await statusOf(`${failing.origin}/c`, dispatcher)).toBe(500);
    const rejected = await statusOf(`${failing.origin}/d`, dispatcher);
    expect(rejected).toBeInstanceOf(BreakerOpenError);
    expect((rejected as BreakerOpenError).breaker).toBe('partner:__overflow__');
    expect(failing.stats.requests).toBe(3);
    expect(interceptor.registry.list().map((breaker) => breaker.name)).toEqual([
      'partner:/a',
      'partner:/b',
      'partner:__overflow__',
    ]);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => circuitBreaker({ isFailure: 500 } as never)).toThrow(/option "isFailure"/);
    expect(() => circuitBreaker({ resetTimeout: 5 } as never)).toThrow(/Did you mean `timeout`/);
    expect(() => circuitBreaker({ maxKeys: 0 })).toThrow(TypeError);
    expect(() => circuitBreaker({ failureThreshold: -1 })).toThrow(/"failureThreshold"/);
  });
});

describe('caller mistakes', () => {
  it('a request undici refuses as written does not count against the upstream', async () => {
    const healthy = await partner(status(200));
    const { dispatcher, interceptor } = agent({}, { failureThreshold: 1 });
    const error = await request(healthy.origin, { dispatcher, headers: { expect: '100-continue' } }).catch(
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe('UND_ERR_NOT_SUPPORTED');
    const breaker = interceptor.registry.peek(healthy.origin)!;
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().counts).toMatchObject({ failures: 0, ignored: 1 });
  });
});
