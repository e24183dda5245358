import http from 'node:http';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { circuitBreaker as expressBreaker } from '@breaker/express';
import { circuitBreaker as koaBreaker } from '@breaker/koa';
import {
  FRAMEWORKS,
  gate,
  startApp,
  startUpstream,
  until,
  type AppOptions,
  type Behaviour,
  type Framework,
  type TestApp,
} from './apps.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((thing) => thing.close()));
});

async function app(
  options: Omit<AppOptions, 'behaviour'> & { behaviour: Behaviour | ((path: string) => Behaviour) },
) {
  const { behaviour } = options;
  const started = await startApp({
    ...options,
    behaviour: typeof behaviour === 'function' ? behaviour : () => behaviour,
  });
  open.push(started);
  return started;
}

const get = (target: TestApp, path = '/r') => request(target.url).get(path);

async function trip(target: TestApp, times: number, path = '/r') {
  for (let i = 0; i < times; i++) await get(target, path);
}

function expectProblem(res: request.Response, breaker: string) {
  expect(res.status).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  const body = JSON.parse(res.text);
  expect(body).toMatchObject({ status: 503, breaker, type: expect.any(String), title: expect.any(String) });
  expect(body.detail).toContain(breaker);
  expect(res.text).not.toContain('secret upstream detail');
  return body;
}

function expectBulkheadProblem(res: request.Response, name: string) {
  expect(res.status).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  const body = JSON.parse(res.text);
  expect(body).toMatchObject({
    type: 'urn:breaker:problem:bulkhead-full',
    title: expect.any(String),
    status: 503,
    bulkhead: name,
    retryAfter: Number(res.headers['retry-after']),
  });
  expect(body.detail).toContain(`"${name}"`);
  expect(res.text).not.toContain('secret upstream detail');
  return body;
}

/** Reads a fetch answer whole, so that its connection is free again. */
async function answer(pending: Promise<Response>) {
  const res = await pending;
  return { status: res.status, text: await res.text() };
}

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  it('passes requests through while closed', async () => {
    const target = await app({
      framework,
      breaker: { name: 'payments' },
      behaviour: { kind: 'status', status: 200, body: 'paid' },
    });
    const res = await get(target);
    expect(res.status).toBe(200);
    expect(res.text).toBe('paid');
  });

  it('opens after failureThreshold server errors and then answers 503 without calling the handler', async () => {
    const clock = new ManualClock();
    const target = await app({
      framework,
      breaker: { name: 'payments', failureThreshold: 3, timeout: 10_000, clock },
      behaviour: { kind: 'status', status: 500, body: 'secret upstream detail' },
    });
    await trip(target, 3);
    expect(target.calls).toBe(3);
    const res = await get(target);
    expect(target.calls).toBe(3);
    const body = expectProblem(res, 'payments');
    expect(res.headers['retry-after']).toBe('10');
    expect(body.retryAfter).toBe(10);
    clock.advance(8_500);
    expect((await get(target)).headers['retry-after']).toBe('2');
  });

  it('closes again after trial successes once the open time has passed', async () => {
    const clock = new ManualClock();
    let failing = true;
    const target = await app({
      framework,
      breaker: { name: 'payments', failureThreshold: 2, successThreshold: 2, timeout: 1_000, clock },
      behaviour: () => ({ kind: 'status', status: failing ? 500 : 200 }),
    });
    await trip(target, 2);
    expect((await get(target)).status).toBe(503);
    failing = false;
    clock.advance(1_000);
    expect((await get(target)).status).toBe(200);
    expect((await get(target)).status).toBe(200);
    expect((await get(target)).status).toBe(200);
  });

  it('counts a thrown error as a failure, and never shows its text', async () => {
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 2 },
      behaviour: { kind: 'throw' },
    });
    const first = await get(target);
    expect(first.status).toBe(500);
    await get(target);
    expectProblem(await get(target), 'p');
  });

  it('counts an error handed to the framework (next(err) / ctx.throw(500)) as a failure', async () => {
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 2 },
      behaviour: { kind: 'pass-error', status: 500 },
    });
    await trip(target, 2);
    expectProblem(await get(target), 'p');
  });

  // Express 4 does not forward a rejected promise to next(err); only callTimeout ends such a request there.
  it.skipIf(framework === 'express4')('counts a rejected async handler as a failure', async () => {
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 2 },
      behaviour: { kind: 'async-reject' },
    });
    await trip(target, 2);
    expectProblem(await get(target), 'p');
  });

  it('client errors (4xx, thrown 404) are not failures', async () => {
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 2 },
      behaviour: (path) =>
        path === '/thrown' ? { kind: 'pass-error', status: 404 } : { kind: 'status', status: 404 },
    });
    await trip(target, 5);
    await trip(target, 5, '/thrown');
    const res = await get(target);
    expect(res.status).toBe(404);
  });

  it('isFailure decides from status and duration', async () => {
    const seen: unknown[] = [];
    const target = await app({
      framework,
      breaker: {
        name: 'p',
        failureThreshold: 2,
        isFailure: (outcome: { status: number; durationMs: number }) => {
          seen.push(outcome);
          return outcome.status === 429;
        },
      },
      behaviour: { kind: 'status', status: 429 },
    });
    await trip(target, 2);
    expect((await get(target)).status).toBe(503);
    expect(seen[0]).toMatchObject({ status: 429, durationMs: expect.any(Number) });
  });

  it("an inner breaker's own 503 does not count against an outer breaker", async () => {
    const target = await app({
      framework,
      outer: { failureThreshold: 2 },
      breaker: { name: 'inner', failureThreshold: 1 },
      behaviour: { kind: 'status', status: 500 },
    });
    await get(target);
    for (let i = 0; i < 3; i++) expectProblem(await get(target), 'inner');
  });

  it('answers 504 at callTimeout, aborts the request signal, counts a failure, and drops the late answer', async () => {
    const clock = new ManualClock();
    const target = await app({
      framework,
      breaker: { name: 'slow', callTimeout: 500, failureThreshold: 1, clock },
      behaviour: { kind: 'late', afterMs: 50, status: 200 },
    });
    const pending = get(target);
    const entered = target.entered();
    const response = pending.then((res) => res);
    await entered;
    clock.advance(500);
    const res = await response;
    expect(res.status).toBe(504);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['x-late']).toBeUndefined();
    expect(JSON.parse(res.text)).toMatchObject({ status: 504, breaker: 'slow' });
    expect(target.signals[0]!.aborted).toBe(true);
    // Let the handler's late writes happen: the process must not crash and nothing more is sent.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expectProblem(await get(target), 'slow');
  });

  it('a hung handler with no callTimeout does not hold a timer', async () => {
    const target = await app({ framework, breaker: { name: 'p' }, behaviour: { kind: 'hang' } });
    const controller = new AbortController();
    const pending = fetch(`${target.url}/r`, { signal: controller.signal }).catch(() => 'aborted');
    await target.entered();
    controller.abort();
    await expect(pending).resolves.toBe('aborted');
  });

  it('a client that hangs up is neither success nor failure and gives the half-open permit back', async () => {
    const clock = new ManualClock();
    let mode: Behaviour = { kind: 'status', status: 500 };
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 1, timeout: 1_000, clock },
      behaviour: () => mode,
    });
    await get(target);
    clock.advance(1_000);
    mode = { kind: 'hang' };
    await new Promise<void>((resolve) => {
      const req = http.get(`${target.url}/r`);
      req.on('error', () => resolve());
      void target.entered().then(() => {
        req.destroy();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(target.signals.at(-1)!.aborted).toBe(true);
    mode = { kind: 'status', status: 200 };
    expect((await get(target)).status).toBe(200);
    expect((await get(target)).status).toBe(200);
  });

  it('half-open with no free permit answers 503 with Retry-After 1 and the half-open-busy fallback reason', async () => {
    const clock = new ManualClock();
    let mode: Behaviour = { kind: 'status', status: 500 };
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 1, timeout: 5_000, clock },
      behaviour: () => mode,
    });
    await get(target);
    clock.advance(5_000);
    mode = { kind: 'hang' };
    const controller = new AbortController();
    const trial = fetch(`${target.url}/r`, { signal: controller.signal }).catch(() => undefined);
    await target.entered();
    const res = await get(target);
    const body = expectProblem(res, 'p');
    expect(res.headers['retry-after']).toBe('1');
    expect(body.type).toContain('half-open');
    controller.abort();
    await trial;
  });

  it('a fallback answers with the reason while open and at the deadline', async () => {
    const clock = new ManualClock();
    let mode: Behaviour = { kind: 'status', status: 500 };
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 1, timeout: 5_000, callTimeout: 100, clock },
      behaviour: () => mode,
      fallback: { status: 200 },
    });
    await get(target);
    const res = await get(target);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ fallback: 'open' });
    expect(target.fallbacks[0]).toMatchObject({ reason: 'open', breaker: 'p', retryAfterMs: 5_000 });
    clock.advance(5_000);
    mode = { kind: 'hang' };
    const pending = get(target).then((r) => r);
    await target.entered();
    clock.advance(100);
    const timedOut = await pending;
    expect(timedOut.status).toBe(200);
    expect(timedOut.body).toMatchObject({ fallback: 'timeout' });
  });

  it('an async fallback at the deadline wins over a handler that answers when its signal aborts', async () => {
    const upstream = await startUpstream();
    open.push(upstream);
    upstream.state.mode = 'hang';
    const clock = new ManualClock();
    const target = await app({
      framework,
      breaker: { name: 'p', callTimeout: 100, clock },
      behaviour: { kind: 'upstream', url: upstream.url },
      fallback: { status: 200, delayMs: 20 },
    });
    const pending = get(target).then((r) => r);
    await target.entered();
    await new Promise((resolve) => setTimeout(resolve, 20));
    clock.advance(100);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ fallback: 'timeout' });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(target.signals[0]!.aborted).toBe(true);
  });

  it.skipIf(framework === 'express4')(
    "a handler's uncaught rejection after the deadline does not cut off a large fallback",
    async () => {
      const upstream = await startUpstream();
      open.push(upstream);
      upstream.state.mode = 'hang';
      const clock = new ManualClock();
      const target = await app({
        framework,
        breaker: { name: 'p', callTimeout: 100, clock },
        behaviour: { kind: 'upstream-uncaught', url: upstream.url },
        fallback: { status: 200, bodyBytes: 5_000_000 },
      });
      const pending = get(target).then((r) => r);
      await target.entered();
      await new Promise((resolve) => setTimeout(resolve, 20));
      clock.advance(100);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body.fallback).toBe('timeout');
      expect(res.body.padding).toHaveLength(5_000_000);
    },
  );

  it("with onReject: 'error', an inner breaker's 503 still does not count against an outer breaker", async () => {
    const target = await app({
      framework,
      outer: { failureThreshold: 2 },
      breaker: { name: 'inner', failureThreshold: 1, onReject: 'error' },
      behaviour: { kind: 'status', status: 500 },
      errorHandler: true,
    });
    await get(target);
    for (let i = 0; i < 3; i++) expect((await get(target)).text).toBe('app error handler: 503');
  });

  it('after a recovery, admits traffic on a ramp and turns the excess away with Retry-After 1', async () => {
    const clock = new ManualClock();
    let mode: Behaviour = { kind: 'status', status: 500 };
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 1, timeout: 1_000, recoveryDuration: 10_000, clock },
      behaviour: () => mode,
    });
    await get(target);
    clock.advance(1_000);
    mode = { kind: 'status', status: 200 };
    expect((await get(target)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await get(target);
      statuses.push(res.status);
      if (res.status === 503) expect(res.headers['retry-after']).toBe('1');
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    clock.advance(10_000);
    expect((await get(target)).status).toBe(200);
    expect((await get(target)).status).toBe(200);
  });

  it('a fallback that throws ends in the problem answer, not a crash', async () => {
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 1 },
      behaviour: { kind: 'status', status: 500 },
      fallback: { status: 200, throws: true },
    });
    await get(target);
    expectProblem(await get(target), 'p');
    expect(target.fallbacks).toHaveLength(1);
  });

  it("onReject: 'error' hands a 503 error with Retry-After to the app's error handling", async () => {
    const target = await app({
      framework,
      breaker: { name: 'p', failureThreshold: 1, onReject: 'error', timeout: 3_000 },
      behaviour: { kind: 'status', status: 500 },
      errorHandler: true,
    });
    await get(target);
    const res = await get(target);
    expect(res.status).toBe(503);
    expect(res.text).toBe('app error handler: 503');
    expect(res.headers['retry-after']).toBe('3');
    expect(target.calls).toBe(1);
  });

  it('key gives one breaker per tenant, from a bounded registry', async () => {
    const registry = new BreakerRegistry({ maxSize: 3 });
    const target = await app({
      framework,
      breaker: {
        name: 'tenant',
        failureThreshold: 1,
        registry,
        key: (source: { url?: string }) =>
          new URL(source.url ?? '/', 'http://x').searchParams.get('t') ?? 'none',
      },
      behaviour: (path) => ({ kind: 'status', status: path.includes('t=bad') ? 500 : 200 }),
    });
    await get(target, '/r?t=bad');
    expectProblem(await get(target, '/r?t=bad'), 'tenant:bad');
    expect((await get(target, '/r?t=good')).status).toBe(200);
    for (let i = 0; i < 10; i++) await get(target, `/r?t=user${i}`);
    expect(registry.size).toBeLessThanOrEqual(4);
    expect(registry.peek('tenant:bad')!.state).toBe('open');
  });

  it('a failing real upstream trips the breaker; the signal cancels a hung upstream request', async () => {
    const upstream = await startUpstream();
    open.push(upstream);
    const clock = new ManualClock();
    const target = await app({
      framework,
      breaker: { name: 'partner', failureThreshold: 2, callTimeout: 200, clock },
      behaviour: { kind: 'upstream', url: upstream.url },
    });
    expect((await get(target)).text).toBe('partner data');
    upstream.state.mode = 'hang';
    const pending = get(target).then((r) => r);
    await target.entered();
    await new Promise((resolve) => setTimeout(resolve, 20));
    clock.advance(200);
    expect((await pending).status).toBe(504);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(upstream.state.aborted).toBe(1);
    upstream.state.mode = 'fail';
    expect((await get(target)).status).toBe(502);
    const res = await get(target);
    expectProblem(res, 'partner');
    expect(upstream.state.requests).toBe(3);
  });

  describe('bulkhead', () => {
    it('answers 503 with Retry-After and a bulkhead-full problem when every slot is busy, without calling the handler', async () => {
      const registry = new BreakerRegistry();
      const held = gate();
      const target = await app({
        framework,
        breaker: { name: 'partner', registry, failureThreshold: 1, bulkhead: { maxConcurrent: 1 } },
        behaviour: { kind: 'gate', gate: held.promise, status: 200 },
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      for (let i = 0; i < 3; i++) {
        const body = expectBulkheadProblem(await get(target), 'partner');
        expect(body.breaker).toBe('partner');
      }
      expect(target.calls).toBe(1);
      held.open();
      expect(await first).toEqual({ status: 200, text: 'through the gate' });
      // Rejections by the bulkhead never reach the breaker: not as failures, not as its own rejections.
      expect(registry.peek('partner')!.stats()).toMatchObject({
        state: 'closed',
        counts: { successes: 1, failures: 0, rejections: 0, ignored: 0 },
      });
      expect((await get(target)).status).toBe(200);
    });

    it("takes Retry-After from the bulkhead's estimate of when a slot frees", async () => {
      const clock = new ManualClock();
      const gates = [gate(), gate()];
      let n = 0;
      const target = await app({
        framework,
        breaker: { name: 'p', clock, bulkhead: { maxConcurrent: 1 } },
        behaviour: () => ({ kind: 'gate', gate: gates[n++]!.promise, status: 200 }),
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      clock.advance(3_000);
      gates[0]!.open();
      await first;
      const second = answer(fetch(`${target.url}/r`));
      await target.entered();
      const rejected = await get(target);
      expectBulkheadProblem(rejected, 'p');
      expect(rejected.headers['retry-after']).toBe('3');
      gates[1]!.open();
      await second;
    });

    it("answers through the fallback with reason 'bulkhead-full'", async () => {
      const held = gate();
      const target = await app({
        framework,
        breaker: { name: 'p', bulkhead: { maxConcurrent: 1 } },
        behaviour: { kind: 'gate', gate: held.promise, status: 200 },
        fallback: { status: 200 },
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      const res = await get(target);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ fallback: 'bulkhead-full' });
      expect(target.fallbacks).toHaveLength(1);
      expect(target.fallbacks[0]).toMatchObject({ reason: 'bulkhead-full', breaker: 'p', retryAfterMs: 0 });
      expect((target.fallbacks[0]!.error as { code?: string }).code).toBe('BREAKER_BULKHEAD_FULL');
      held.open();
      await first;
    });

    it('a fallback that throws for a full bulkhead ends in the bulkhead problem', async () => {
      const held = gate();
      const target = await app({
        framework,
        breaker: { name: 'p', bulkhead: { maxConcurrent: 1 } },
        behaviour: { kind: 'gate', gate: held.promise, status: 200 },
        fallback: { status: 200, throws: true },
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      expectBulkheadProblem(await get(target), 'p');
      held.open();
      await first;
    });

    it("with onReject: 'error', hands a 503 error with Retry-After to the app's error handling", async () => {
      const held = gate();
      const target = await app({
        framework,
        breaker: { name: 'p', onReject: 'error', bulkhead: { maxConcurrent: 1 } },
        behaviour: { kind: 'gate', gate: held.promise, status: 200 },
        errorHandler: true,
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      const res = await get(target);
      expect(res.status).toBe(503);
      expect(res.text).toBe('app error handler: 503');
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers['cache-control']).toBe('no-store');
      held.open();
      await first;
    });

    it('queues a request beyond maxConcurrent and runs its handler only once a slot frees', async () => {
      const clock = new ManualClock();
      const gates = [gate(), gate()];
      let n = 0;
      const target = await app({
        framework,
        breaker: { name: 'p', clock, bulkhead: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 60_000 } },
        behaviour: () => ({ kind: 'gate', gate: gates[n++]!.promise, status: 200 }),
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      const second = answer(fetch(`${target.url}/r`));
      // The queued request's queueTimeout timer is the only timer on the clock.
      expect(await until(() => clock.pendingTimers === 1)).toBe(true);
      expectBulkheadProblem(await get(target), 'p');
      expect(target.calls).toBe(1);
      const entered = target.entered();
      gates[0]!.open();
      expect(await first).toEqual({ status: 200, text: 'through the gate' });
      await entered;
      expect(target.calls).toBe(2);
      expect(clock.pendingTimers).toBe(0);
      gates[1]!.open();
      expect(await second).toEqual({ status: 200, text: 'through the gate' });
    });

    it('turns a queued request away after queueTimeout, with a bulkhead-full problem', async () => {
      const clock = new ManualClock();
      const held = gate();
      const target = await app({
        framework,
        breaker: { name: 'p', clock, bulkhead: { maxConcurrent: 1, maxQueue: 5, queueTimeout: 500 } },
        behaviour: { kind: 'gate', gate: held.promise, status: 200 },
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      const queued = get(target).then((res) => res);
      expect(await until(() => clock.pendingTimers === 1)).toBe(true);
      clock.advance(499);
      expect(clock.pendingTimers).toBe(1);
      clock.advance(1);
      const body = expectBulkheadProblem(await queued, 'p');
      expect(body.detail).toContain('waited');
      expect(target.calls).toBe(1);
      held.open();
      await first;
      expect(clock.pendingTimers).toBe(0);
    });

    it('a client that hangs up while queued leaves the queue at once and counts neither way', async () => {
      const clock = new ManualClock();
      const registry = new BreakerRegistry();
      const held = gate();
      let mode: Behaviour = { kind: 'gate', gate: held.promise, status: 200 };
      const target = await app({
        framework,
        breaker: {
          name: 'p',
          clock,
          registry,
          bulkhead: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 60_000 },
        },
        behaviour: () => mode,
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      const controller = new AbortController();
      const leaving = fetch(`${target.url}/r`, { signal: controller.signal }).catch(() => 'aborted');
      expect(await until(() => clock.pendingTimers === 1)).toBe(true);
      controller.abort();
      expect(await leaving).toBe('aborted');
      // It left the queue (its queue timer is gone), so the queue has room again.
      expect(await until(() => clock.pendingTimers === 0)).toBe(true);
      const next = answer(fetch(`${target.url}/r`));
      expect(await until(() => clock.pendingTimers === 1)).toBe(true);
      mode = { kind: 'status', status: 200 };
      held.open();
      expect(await first).toEqual({ status: 200, text: 'through the gate' });
      expect((await next).status).toBe(200);
      expect(target.calls).toBe(2);
      expect(registry.peek('p')!.stats().counts).toMatchObject({ successes: 2, failures: 0, ignored: 0 });
      expect((await get(target)).status).toBe(200);
    });

    it('frees the slot when the deadline answers, before a slow fallback has finished its answer', async () => {
      const clock = new ManualClock();
      let mode: Behaviour = { kind: 'hang' };
      const target = await app({
        framework,
        breaker: { name: 'p', clock, callTimeout: 100, bulkhead: { maxConcurrent: 1 } },
        behaviour: () => mode,
        fallback: { status: 200, delayMs: 300 },
      });
      const hung = get(target).then((res) => res);
      await target.entered();
      clock.advance(100);
      // The timeout fallback takes 300 ms to answer; the slot is free from the deadline on.
      mode = { kind: 'status', status: 200 };
      const admitted = await get(target);
      expect(admitted.status).toBe(200);
      expect(admitted.text).toBe('handler');
      expect((await hung).body).toMatchObject({ fallback: 'timeout' });
      expect(target.fallbacks.map((info) => info.reason)).toEqual(['timeout']);
    });

    it('frees the slot at the 504 though the handler still runs', async () => {
      const clock = new ManualClock();
      let mode: Behaviour = { kind: 'hang' };
      const target = await app({
        framework,
        breaker: { name: 'p', clock, callTimeout: 100, bulkhead: { maxConcurrent: 1 } },
        behaviour: () => mode,
      });
      const hung = get(target).then((res) => res);
      await target.entered();
      expectBulkheadProblem(await get(target), 'p');
      clock.advance(100);
      expect((await hung).status).toBe(504);
      mode = { kind: 'status', status: 200 };
      expect((await get(target)).status).toBe(200);
      expect((await get(target)).status).toBe(200);
    });

    it('frees the slot when an admitted client hangs up', async () => {
      const registry = new BreakerRegistry();
      let mode: Behaviour = { kind: 'hang' };
      const target = await app({
        framework,
        breaker: { name: 'p', registry, bulkhead: { maxConcurrent: 1 } },
        behaviour: () => mode,
      });
      const controller = new AbortController();
      const hung = fetch(`${target.url}/r`, { signal: controller.signal }).catch(() => 'aborted');
      await target.entered();
      expectBulkheadProblem(await get(target), 'p');
      controller.abort();
      await hung;
      // The server hears of the hang-up a moment after the client: the permit goes back, the slot frees.
      expect(await until(() => registry.peek('p')!.stats().counts.ignored === 1)).toBe(true);
      mode = { kind: 'status', status: 200 };
      expect((await get(target)).status).toBe(200);
    });

    it('never counts its rejections against this breaker or an outer one', async () => {
      const registry = new BreakerRegistry();
      const held = gate();
      let mode: Behaviour = { kind: 'gate', gate: held.promise, status: 200 };
      const target = await app({
        framework,
        outer: { failureThreshold: 1 },
        breaker: { name: 'inner', registry, failureThreshold: 1, bulkhead: { maxConcurrent: 1 } },
        behaviour: () => mode,
      });
      const first = answer(fetch(`${target.url}/r`));
      await target.entered();
      for (let i = 0; i < 3; i++) expectBulkheadProblem(await get(target), 'inner');
      held.open();
      await first;
      mode = { kind: 'status', status: 200 };
      expect((await get(target)).status).toBe(200);
      expect(registry.peek('inner')!.state).toBe('closed');
    });

    it('frees the slot of a queued request the open breaker then turns away', async () => {
      const clock = new ManualClock();
      const held = gate();
      let mode: Behaviour = { kind: 'gate', gate: held.promise, status: 500 };
      const target = await app({
        framework,
        breaker: {
          name: 'p',
          clock,
          failureThreshold: 1,
          timeout: 1_000,
          bulkhead: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 60_000 },
        },
        behaviour: () => mode,
      });
      const failing = answer(fetch(`${target.url}/r`));
      await target.entered();
      const queued = get(target).then((res) => res);
      expect(await until(() => clock.pendingTimers === 1)).toBe(true);
      held.open();
      expect((await failing).status).toBe(500);
      // Admitted by the bulkhead once the slot freed, then turned away by the breaker the failure opened.
      const rejected = await queued;
      expectProblem(rejected, 'p');
      expect(JSON.parse(rejected.text).type).toBe('urn:breaker:problem:circuit-open');
      expect(target.calls).toBe(1);
      clock.advance(1_000);
      mode = { kind: 'status', status: 200 };
      expect((await get(target)).status).toBe(200);
    });

    it('keeps one bulkhead per key', async () => {
      const held = gate();
      const target = await app({
        framework,
        breaker: {
          name: 'tenant',
          key: (source: { url?: string }) =>
            new URL(source.url ?? '/', 'http://x').searchParams.get('t') ?? 'none',
          bulkhead: { maxConcurrent: 1 },
        },
        behaviour: (path) =>
          path.includes('t=slow')
            ? { kind: 'gate', gate: held.promise, status: 200 }
            : { kind: 'status', status: 200 },
      });
      const slow = answer(fetch(`${target.url}/r?t=slow`));
      await target.entered();
      expectBulkheadProblem(await get(target, '/r?t=slow'), 'tenant:slow');
      expect((await get(target, '/r?t=fast')).status).toBe(200);
      expect((await get(target, '/r?t=fast')).status).toBe(200);
      held.open();
      await slow;
    });
  });
});

describe('factory checks', () => {
  // Each factory is generic over its framework's types; here only its checks matter.
  const factories: [string, (options?: object) => unknown][] = [
    ['express', expressBreaker as unknown as (options?: object) => unknown],
    ['koa', koaBreaker as unknown as (options?: object) => unknown],
  ];
  it.each(factories)('%s: bad options throw a TypeError naming the option', (name, factory) => {
    expect(() => factory({ fallback: 5 } as never)).toThrow(TypeError);
    expect(() => factory({ fallback: 5 } as never)).toThrow(
      `circuitBreaker() from @breaker/${name} option "fallback"`,
    );
    expect(() => factory({ resetTimeout: 1 } as never)).toThrow(/Did you mean `timeout`/);
    expect(() => factory({ failureThreshold: 0 })).toThrow(
      /"failureThreshold": expected a whole number of at least 1; received 0/,
    );
    expect(() => factory({ onReject: 'throw' } as never)).toThrow(/"onReject"/);
    expect(() => factory({ keys: () => 'x' } as never)).toThrow(/Did you mean `key`/);
    expect(() => factory({ bulkhead: { maxConcurrent: 0 } })).toThrow(
      /"bulkhead\.maxConcurrent": expected a whole number of at least 1; received 0/,
    );
    expect(() => factory({ bulkhead: { maxConcurrent: 1, queueTimeout: -1 } })).toThrow(
      /"bulkhead\.queueTimeout"/,
    );
    expect(() => factory({ bulkhead: { limit: 5 } } as never)).toThrow(
      /"bulkhead\.limit".*Did you mean `bulkhead\.maxConcurrent`/,
    );
    expect(() => factory({ bulkhead: 5 } as never)).toThrow(/"bulkhead": expected an object/);
    expect(() => factory({ bulkhed: { maxConcurrent: 1 } } as never)).toThrow(/Did you mean `bulkhead`/);
  });

  it('returns a named middleware', () => {
    expect(expressBreaker().name).toBe('circuitBreakerMiddleware');
    expect(koaBreaker().name).toBe('circuitBreakerMiddleware');
  });
});
