import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { Agent, fetch, request, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerOpenError, BulkheadRejectedError } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import type { FallbackInfo } from '@breaker/core/http';
import { circuitBreaker, proxy, type InterceptorOptions, type ProxyOptions } from '@breaker/undici';
import { reply, startPartner, type Partner, type PartnerRoute } from './partner.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function partner(route?: PartnerRoute): Promise<Partner> {
  const started = await startPartner(route);
  cleanup.push(() => started.close());
  return started;
}

function agent(options: InterceptorOptions = {}) {
  const interceptor = circuitBreaker(options);
  const base = new Agent({ keepAliveTimeout: 10 });
  cleanup.push(() => base.close());
  return { dispatcher: base.compose(interceptor), interceptor };
}

/** Answers in turn from `replies`, the last one for every request after. */
function inTurn(...replies: PartnerRoute[]): PartnerRoute {
  let next = 0;
  return (req, res) => replies[Math.min(next++, replies.length - 1)]!(req, res);
}

/** Holds every response open until the test releases it. */
function held() {
  const waiting: ServerResponse[] = [];
  const route: PartnerRoute = (_req, res) => {
    waiting.push(res);
  };
  const releaseAll = (status = 200): void => {
    for (const res of waiting.splice(0)) res.writeHead(status).end(`released ${status}`);
  };
  return { route, waiting, releaseAll };
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

interface Outcome {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

async function send(
  url: string,
  dispatcher: Dispatcher,
  options: Partial<Dispatcher.RequestOptions> = {},
): Promise<Outcome | unknown> {
  try {
    const { statusCode, body, headers } = await request(url, { dispatcher, ...options });
    return { status: statusCode, body: await body.text(), headers: headers as IncomingHttpHeaders };
  } catch (error) {
    return error;
  }
}

const SERVICE_UNAVAILABLE = reply(503, 'partner busy: secret detail');

describe('interceptor bulkhead', () => {
  it('fails at once with BulkheadRejectedError, without a socket, when every slot is busy', async () => {
    const hold = held();
    const upstream = await partner(hold.route);
    const { dispatcher, interceptor } = agent({ bulkhead: { maxConcurrent: 2 } });
    const pending = [send(upstream.origin, dispatcher), send(upstream.origin, dispatcher)];
    expect(await until(() => hold.waiting.length === 2)).toBe(true);
    const connections = upstream.connections;
    for (let i = 0; i < 5; i++) {
      const error = await send(`${upstream.origin}/more`, dispatcher);
      expect(error).toBeInstanceOf(BulkheadRejectedError);
      expect(error).toMatchObject({
        code: 'BREAKER_BULKHEAD_FULL',
        reason: 'full',
        bulkhead: upstream.origin,
      });
    }
    expect(upstream.seen).toHaveLength(2);
    expect(upstream.connections).toBe(connections);
    upstream.route = reply(200, 'partner data');
    hold.releaseAll();
    for (const outcome of await Promise.all(pending)) expect(outcome).toMatchObject({ status: 200 });
    const breaker = interceptor.registry.peek(upstream.origin)!;
    expect(breaker.stats().counts).toMatchObject({ successes: 2, failures: 0, rejections: 0 });
    expect(interceptor.bulkheadOf(upstream.origin)!.stats()).toMatchObject({ active: 0, rejected: 5 });
    expect(await send(upstream.origin, dispatcher)).toMatchObject({ status: 200, body: 'partner data' });
  });

  it('keeps one bulkhead per origin', async () => {
    const hold = held();
    const slow = await partner(hold.route);
    const fast = await partner();
    const { dispatcher } = agent({ bulkhead: { maxConcurrent: 1 } });
    const pending = send(slow.origin, dispatcher);
    expect(await until(() => hold.waiting.length === 1)).toBe(true);
    expect(await send(slow.origin, dispatcher)).toBeInstanceOf(BulkheadRejectedError);
    expect(await send(fast.origin, dispatcher)).toMatchObject({ status: 200, body: 'partner data' });
    hold.releaseAll();
    await pending;
  });

  it('queues a request until a slot frees, and holds the slot until the body has been read', async () => {
    const hold = held();
    const upstream = await partner(hold.route);
    const { dispatcher, interceptor } = agent({ bulkhead: { maxConcurrent: 1, maxQueue: 1 } });
    const first = send(upstream.origin, dispatcher);
    expect(await until(() => hold.waiting.length === 1)).toBe(true);
    const second = send(`${upstream.origin}/second`, dispatcher);
    const bulkhead = interceptor.bulkheadOf(upstream.origin)!;
    expect(bulkhead.stats().queued).toBe(1);
    expect(await send(upstream.origin, dispatcher)).toMatchObject({ reason: 'full' });
    expect(upstream.seen).toHaveLength(1);
    hold.releaseAll();
    expect(await first).toMatchObject({ status: 200, body: 'released 200' });
    expect(await until(() => hold.waiting.length === 1)).toBe(true);
    expect(upstream.seen.map((seen) => seen.url)).toEqual(['/', '/second']);
    hold.releaseAll();
    expect(await second).toMatchObject({ status: 200 });
    expect(bulkhead.stats()).toMatchObject({ active: 0, queued: 0, admitted: 2 });
  });

  it('turns a queued request away after queueTimeout', async () => {
    const clock = new ManualClock();
    const hold = held();
    const upstream = await partner(hold.route);
    const { dispatcher, interceptor } = agent({
      clock,
      bulkhead: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 500 },
    });
    const first = send(upstream.origin, dispatcher);
    expect(await until(() => hold.waiting.length === 1)).toBe(true);
    const second = send(upstream.origin, dispatcher);
    expect(await until(() => clock.pendingTimers === 1)).toBe(true);
    clock.advance(500);
    expect(await second).toMatchObject({ reason: 'queue-timeout', bulkhead: upstream.origin });
    expect(interceptor.bulkheadOf(upstream.origin)!.stats().queueTimeouts).toBe(1);
    hold.releaseAll();
    await first;
    expect(upstream.seen).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it("a caller's abort takes a queued request out of the queue at once, and leaves no listener", async () => {
    const hold = held();
    const upstream = await partner(hold.route);
    const { dispatcher, interceptor } = agent({ bulkhead: { maxConcurrent: 1, maxQueue: 1 } });
    const first = send(upstream.origin, dispatcher);
    expect(await until(() => hold.waiting.length === 1)).toBe(true);
    const controller = new AbortController();
    const leaving = send(upstream.origin, dispatcher, { signal: controller.signal });
    const bulkhead = interceptor.bulkheadOf(upstream.origin)!;
    expect(bulkhead.stats().queued).toBe(1);
    controller.abort();
    expect(await leaving).toMatchObject({ name: 'AbortError' });
    expect(bulkhead.stats()).toMatchObject({ queued: 0, aborted: 1 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    hold.releaseAll();
    await first;
    expect(upstream.seen).toHaveLength(1);
    expect(interceptor.registry.peek(upstream.origin)!.stats().counts).toMatchObject({
      successes: 1,
      failures: 0,
      ignored: 0,
    });
  });

  it('frees the slot when a request fails, and after an open breaker turns a queued request away', async () => {
    const hold = held();
    const upstream = await partner(hold.route);
    const { dispatcher, interceptor } = agent({
      failureThreshold: 1,
      bulkhead: { maxConcurrent: 1, maxQueue: 1 },
    });
    const failing = send(upstream.origin, dispatcher);
    expect(await until(() => hold.waiting.length === 1)).toBe(true);
    const queued = send(upstream.origin, dispatcher);
    hold.releaseAll(500);
    expect(await failing).toMatchObject({ status: 500 });
    expect(await queued).toBeInstanceOf(BreakerOpenError);
    expect(interceptor.bulkheadOf(upstream.origin)!.stats()).toMatchObject({ active: 0, queued: 0 });
    expect(upstream.seen).toHaveLength(1);
  });
});

describe('interceptor retry', () => {
  it('a GET succeeds after transient 503s; every try counts in the breaker', async () => {
    const upstream = await partner(inTurn(SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE, reply(200, 'fresh')));
    const { dispatcher, interceptor } = agent({ retry: { attempts: 3, baseDelay: 0 } });
    expect(await send(`${upstream.origin}/rates`, dispatcher)).toMatchObject({ status: 200, body: 'fresh' });
    expect(upstream.seen.map((seen) => seen.url)).toEqual(['/rates', '/rates', '/rates']);
    expect(interceptor.registry.peek(upstream.origin)!.stats().counts).toMatchObject({
      successes: 1,
      failures: 2,
    });
  });

  it('passes the last failing response on whole once the tries are spent', async () => {
    const upstream = await partner(SERVICE_UNAVAILABLE);
    const { dispatcher } = agent({ retry: { attempts: 2, baseDelay: 0 } });
    expect(await send(upstream.origin, dispatcher)).toMatchObject({
      status: 503,
      body: 'partner busy: secret detail',
    });
    expect(upstream.seen).toHaveLength(2);
  });

  it('retries a connection reset before the response starts', async () => {
    const upstream = await partner(
      inTurn((_req, res) => res.socket?.resetAndDestroy(), reply(200, 'after the reset')),
    );
    const { dispatcher, interceptor } = agent({ retry: { baseDelay: 0 } });
    expect(await send(upstream.origin, dispatcher)).toMatchObject({ status: 200, body: 'after the reset' });
    expect(upstream.seen).toHaveLength(2);
    expect(interceptor.registry.peek(upstream.origin)!.stats().counts.failures).toBe(1);
  });

  it('works through fetch too', async () => {
    const upstream = await partner(inTurn(SERVICE_UNAVAILABLE, reply(200, 'fetched')));
    const { dispatcher } = agent({ retry: { baseDelay: 0 } });
    const res = await fetch(upstream.origin, { dispatcher });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('fetched');
    expect(upstream.seen).toHaveLength(2);
  });

  it('does not retry a POST without Idempotency-Key, does with one, and does when methods lists POST', async () => {
    const upstream = await partner(SERVICE_UNAVAILABLE);
    const { dispatcher } = agent({
      failureThreshold: 100,
      retry: { attempts: 2, baseDelay: 0, budget: false },
    });
    const post = { method: 'POST' as const, body: '{"order":1}' };
    expect(await send(upstream.origin, dispatcher, post)).toMatchObject({ status: 503 });
    expect(upstream.seen).toHaveLength(1);
    await send(upstream.origin, dispatcher, { ...post, headers: { 'Idempotency-Key': 'order-1' } });
    expect(upstream.seen).toHaveLength(3);
    await send(upstream.origin, dispatcher, { ...post, headers: ['idempotency-key', 'order-2'] });
    expect(upstream.seen).toHaveLength(5);
    await send(upstream.origin, dispatcher, { method: 'PATCH', body: Buffer.from('x') });
    expect(upstream.seen).toHaveLength(6);

    const listed = agent({
      failureThreshold: 100,
      retry: { attempts: 2, baseDelay: 0, methods: ['get', 'post'] },
    });
    await send(upstream.origin, listed.dispatcher, post);
    expect(upstream.seen).toHaveLength(8);
    // methods replaces the default list: a DELETE is no longer retried.
    await send(upstream.origin, listed.dispatcher, { method: 'DELETE' });
    expect(upstream.seen).toHaveLength(9);
  });

  it('replays a string or Buffer body, and never retries a stream body', async () => {
    const bodies: string[] = [];
    const upstream = await partner((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        bodies.push(text);
        res.writeHead(503).end('busy');
      });
    });
    const { dispatcher } = agent({ retry: { attempts: 2, baseDelay: 0 } });
    await send(upstream.origin, dispatcher, { method: 'PUT', body: 'as a string' });
    await send(upstream.origin, dispatcher, { method: 'PUT', body: Buffer.from('as a buffer') });
    expect(bodies).toEqual(['as a string', 'as a string', 'as a buffer', 'as a buffer']);
    const streamed = await send(upstream.origin, dispatcher, {
      method: 'PUT',
      body: Readable.from([Buffer.from('as a stream')]),
    });
    expect(streamed).toMatchObject({ status: 503 });
    expect(bodies.slice(4)).toEqual(['as a stream']);
  });

  it('never retries once the response has begun reaching the caller', async () => {
    const upstream = await partner((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial', () => setTimeout(() => res.socket?.resetAndDestroy(), 10));
    });
    const { dispatcher, interceptor } = agent({ retry: { attempts: 3, baseDelay: 0 } });
    const { statusCode, body } = await request(upstream.origin, { dispatcher });
    expect(statusCode).toBe(200);
    await expect(body.text()).rejects.toThrow();
    expect(upstream.seen).toHaveLength(1);
    expect(interceptor.registry.peek(upstream.origin)!.stats().counts.failures).toBe(1);
  });

  it('does not retry a status that is not a failure', async () => {
    const upstream = await partner(reply(404, 'no such order'));
    const { dispatcher } = agent({ retry: { baseDelay: 0 } });
    expect(await send(upstream.origin, dispatcher)).toMatchObject({ status: 404, body: 'no such order' });
    expect(upstream.seen).toHaveLength(1);
  });

  it('stops once a failure opens the breaker, and passes that response on', async () => {
    const upstream = await partner(SERVICE_UNAVAILABLE);
    const { dispatcher, interceptor } = agent({
      failureThreshold: 2,
      timeout: 30_000,
      retry: { attempts: 5, baseDelay: 0 },
    });
    expect(await send(upstream.origin, dispatcher)).toMatchObject({ status: 503 });
    expect(upstream.seen).toHaveLength(2);
    expect(interceptor.registry.peek(upstream.origin)!.state).toBe('open');
    expect(await send(upstream.origin, dispatcher)).toBeInstanceOf(BreakerOpenError);
    expect(upstream.seen).toHaveLength(2);
  });

  it('a BreakerOpenError at a retry is final', async () => {
    const clock = new ManualClock();
    const upstream = await partner(inTurn(reply(503, 'busy', { 'retry-after': '1' }), reply(200, 'late')));
    const { dispatcher, interceptor } = agent({ clock, retry: { attempts: 3, baseDelay: 0 } });
    const pending = send(upstream.origin, dispatcher);
    // The breaker's open timer (from Retry-After) and the retry's wait.
    expect(await until(() => clock.pendingTimers === 2)).toBe(true);
    interceptor.registry.peek(upstream.origin)!.forceOpen();
    clock.advance(1_000);
    const error = await pending;
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect((error as BreakerOpenError).state).toBe('forced-open');
    expect(upstream.seen).toHaveLength(1);
  });

  it("waits for an upstream's Retry-After, and gives up on one longer than maxDelay", async () => {
    const clock = new ManualClock();
    const upstream = await partner(
      inTurn(reply(503, 'busy', { 'retry-after': '2' }), reply(200, 'after the pause')),
    );
    const { dispatcher, interceptor } = agent({ clock, retry: { attempts: 3, baseDelay: 0 } });
    const pending = send(upstream.origin, dispatcher);
    expect(await until(() => clock.pendingTimers === 2)).toBe(true);
    clock.advance(1_999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(upstream.seen).toHaveLength(1);
    clock.advance(1);
    // The breaker, opened for the Retry-After, is half-open now: the retry is its trial call.
    expect(await pending).toMatchObject({ status: 200, body: 'after the pause' });
    expect(interceptor.registry.peek(upstream.origin)!.state).toBe('closed');
    expect(clock.pendingTimers).toBe(0);

    const patient = await partner(reply(503, 'come back in a minute', { 'retry-after': '60' }));
    const short = agent({ retry: { maxDelay: 5_000, baseDelay: 0 } });
    expect(await send(patient.origin, short.dispatcher)).toMatchObject({ status: 503 });
    expect(patient.seen).toHaveLength(1);
  });

  it("honours the caller's AbortSignal during the backoff, leaving no timer and no listener", async () => {
    const clock = new ManualClock();
    const upstream = await partner(reply(503, 'busy', { 'retry-after': '5' }));
    const { dispatcher, interceptor } = agent({ clock, retry: { attempts: 3 } });
    const controller = new AbortController();
    const pending = send(upstream.origin, dispatcher, { signal: controller.signal });
    expect(await until(() => clock.pendingTimers === 2)).toBe(true);
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    expect(clock.pendingTimers).toBe(1); // the breaker's open timer only
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    clock.advance(10_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(upstream.seen).toHaveLength(1);
    expect(interceptor.registry.peek(upstream.origin)!.stats().counts).toMatchObject({ failures: 1 });
  });

  it('leaves no timer or listener behind after a retried request succeeds', async () => {
    const clock = new ManualClock();
    const upstream = await partner(inTurn(SERVICE_UNAVAILABLE, reply(200, 'ok')));
    const { dispatcher } = agent({ clock, callTimeout: 1_000, retry: { baseDelay: 0 } });
    const signal = new AbortController().signal;
    expect(await send(upstream.origin, dispatcher, { signal })).toMatchObject({ status: 200 });
    expect(clock.pendingTimers).toBe(0);
    // undici's own listener goes when the body stream closes, a moment after the body is read.
    expect(await until(() => getEventListeners(signal, 'abort').length === 0)).toBe(true);
  });

  it('retries a try that missed callTimeout; each try has its own deadline and counts', async () => {
    const clock = new ManualClock();
    const upstream = await partner(inTurn(() => {}, reply(200, 'in time')));
    const { dispatcher, interceptor } = agent({ clock, callTimeout: 250, retry: { baseDelay: 0 } });
    const pending = send(upstream.origin, dispatcher);
    expect(await until(() => upstream.seen.length === 1 && clock.pendingTimers === 1)).toBe(true);
    clock.advance(250);
    expect(await pending).toMatchObject({ status: 200, body: 'in time' });
    expect(interceptor.registry.peek(upstream.origin)!.stats().counts).toMatchObject({
      successes: 1,
      failures: 1,
      timeouts: 1,
    });
    expect(clock.pendingTimers).toBe(0);
  });

  it('holds its bulkhead slot from the first try to the last, backoff included', async () => {
    const clock = new ManualClock();
    const upstream = await partner(inTurn(reply(503, 'busy', { 'retry-after': '1' }), reply(200, 'done')));
    const { dispatcher, interceptor } = agent({
      clock,
      bulkhead: { maxConcurrent: 1 },
      retry: { baseDelay: 0 },
    });
    const retried = send(upstream.origin, dispatcher);
    expect(await until(() => clock.pendingTimers === 2)).toBe(true);
    expect(await send(`${upstream.origin}/other`, dispatcher)).toBeInstanceOf(BulkheadRejectedError);
    clock.advance(1_000);
    expect(await retried).toMatchObject({ status: 200, body: 'done' });
    expect(interceptor.bulkheadOf(upstream.origin)!.stats()).toMatchObject({ active: 0, admitted: 1 });
  });

  it('a dispatcher that throws, on the first try or a retry, fails the request and gives back the permit and the slot', async () => {
    const upstream = await partner(SERVICE_UNAVAILABLE);
    let calls = 0;
    let throwOn = 1;
    const refusing: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      if (++calls === throwOn) throw new Error('dispatcher refused');
      return dispatch(opts, handler);
    };
    const interceptor = circuitBreaker({ bulkhead: { maxConcurrent: 1 }, retry: { baseDelay: 0 } });
    const base = new Agent({ keepAliveTimeout: 10 });
    cleanup.push(() => base.close());
    const dispatcher = base.compose(refusing, interceptor);
    expect(await send(upstream.origin, dispatcher)).toMatchObject({ message: 'dispatcher refused' });
    throwOn = 3;
    expect(await send(upstream.origin, dispatcher)).toMatchObject({ message: 'dispatcher refused' });
    expect(upstream.seen).toHaveLength(1);
    expect(interceptor.registry.peek(upstream.origin)!.stats().counts).toMatchObject({
      failures: 1,
      ignored: 2,
    });
    expect(interceptor.bulkheadOf(upstream.origin)!.stats()).toMatchObject({ active: 0, admitted: 2 });
  });

  it('spends no more retries than the budget allows', async () => {
    const clock = new ManualClock();
    const upstream = await partner(SERVICE_UNAVAILABLE);
    const { dispatcher } = agent({
      clock,
      failureThreshold: 100,
      retry: { attempts: 3, baseDelay: 0, budget: { ratio: 0.5, minPerSecond: 0 } },
    });
    for (let i = 0; i < 4; i++)
      expect(await send(upstream.origin, dispatcher)).toMatchObject({ status: 503 });
    // Four requests earn two retries at ratio 0.5; the clock stands still, so nothing refills.
    expect(upstream.seen).toHaveLength(6);
  });

  it('rejects bad retry and bulkhead options, naming them', () => {
    expect(() => circuitBreaker({ retry: { attempts: 0 } })).toThrow(
      /option "retry\.attempts": expected a whole number of at least 1; received 0/,
    );
    expect(() => circuitBreaker({ retry: { maxAttempts: 3 } } as never)).toThrow(
      /"retry\.maxAttempts".*`retry\.attempts`/,
    );
    expect(() => circuitBreaker({ retry: { methods: 'GET' } } as never)).toThrow(/"retry\.methods"/);
    expect(() => circuitBreaker({ retry: { methods: ['GET POST'] } })).toThrow(/"retry\.methods\.0"/);
    expect(() => circuitBreaker({ retry: { baseDelay: 500, maxDelay: 100 } })).toThrow(
      /"retry\.maxDelay": expected at least `retry\.baseDelay` \(500\)/,
    );
    expect(() => circuitBreaker({ retry: { retryOn: () => true } } as never)).toThrow(/"retry\.retryOn"/);
    expect(() => circuitBreaker({ bulkhead: { maxConcurrent: 0 } })).toThrow(/"bulkhead\.maxConcurrent"/);
    expect(() => circuitBreaker({ bulkhed: {} } as never)).toThrow(/Did you mean `bulkhead`/);
    expect(() =>
      proxy({ target: 'http://partner.example', retry: { budget: { ratio: -1 } } } as ProxyOptions),
    ).toThrow(/proxy\(\) from @breaker\/undici option "retry\.budget\.ratio"/);
  });
});

describe('proxy bulkhead and retry', () => {
  async function gateway(target: Partner, options: Omit<ProxyOptions, 'target'>) {
    const dispatcher = new Agent({ keepAliveTimeout: 100 });
    cleanup.push(() => dispatcher.destroy());
    const handler = proxy({ target: `${target.origin}/api`, dispatcher, ...options });
    const server = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as { port: number };
    return { url: `http://127.0.0.1:${port}`, handler };
  }

  async function call(url: string, init: RequestInit = {}) {
    const res = await globalThis.fetch(url, init);
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  it('answers a full bulkhead with the 503 bulkhead problem, or the fallback', async () => {
    const hold = held();
    const upstream = await partner(hold.route);
    const infos: FallbackInfo[] = [];
    let useFallback = false;
    const { url } = await gateway(upstream, {
      bulkhead: { maxConcurrent: 1 },
      fallback: (_req, res, info) => {
        if (!useFallback) throw new Error('no fallback this time');
        infos.push(info);
        res.writeHead(200, { 'x-fallback': info.reason }).end('cached');
      },
    });
    const first = call(`${url}/slow`);
    expect(await until(() => hold.waiting.length === 1)).toBe(true);
    const rejected = await call(`${url}/slow`);
    expect(rejected.status).toBe(503);
    expect(rejected.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(rejected.headers.get('cache-control')).toBe('no-store');
    expect(rejected.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(rejected.body)).toMatchObject({
      type: 'urn:breaker:problem:bulkhead-full',
      status: 503,
      bulkhead: 'upstream',
    });
    useFallback = true;
    const fallback = await call(`${url}/slow`);
    expect(fallback).toMatchObject({ status: 200, body: 'cached' });
    expect(infos[0]).toMatchObject({ reason: 'bulkhead-full', breaker: upstream.origin });
    expect(upstream.seen).toHaveLength(1);
    hold.releaseAll();
    expect((await first).status).toBe(200);
  });

  it('retries a GET and a bodiless DELETE after a 503, but streams a POST body once', async () => {
    const upstream = await partner(SERVICE_UNAVAILABLE);
    const { url, handler } = await gateway(upstream, {
      failureThreshold: 100,
      retry: { attempts: 2, baseDelay: 0 },
    });
    upstream.route = inTurn(SERVICE_UNAVAILABLE, reply(200, 'second try'));
    expect(await call(`${url}/x`)).toMatchObject({ status: 200, body: 'second try' });
    upstream.route = inTurn(SERVICE_UNAVAILABLE, reply(204, ''));
    expect((await call(`${url}/x`, { method: 'DELETE' })).status).toBe(204);
    expect(upstream.seen).toHaveLength(4);
    upstream.route = SERVICE_UNAVAILABLE;
    const posted = await call(`${url}/x`, { method: 'POST', body: 'order' });
    expect(posted.status).toBe(502);
    expect(posted.body).not.toContain('secret');
    expect(upstream.seen).toHaveLength(5);
    expect(handler.interceptor.registry.peek(upstream.origin)!.stats().counts).toMatchObject({
      successes: 2,
      failures: 3,
    });
  });
});
