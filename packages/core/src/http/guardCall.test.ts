import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../registry.js';
import { ManualClock } from '../testing.js';
import { ClientClosedError, HttpGuard, RequestCall, observeResponse } from './guard.js';

type TestResponse = ServerResponse & { begin(): void; close(): void };

/** A response the test begins (headers sent) and closes, finished once begun. */
function response(): TestResponse {
  const res = new EventEmitter() as unknown as TestResponse;
  Object.assign(res, { statusCode: 200, writableFinished: false, headersSent: false });
  res.begin = () => Object.assign(res, { headersSent: true });
  res.close = () => {
    Object.assign(res, { writableFinished: res.headersSent });
    res.emit('close');
  };
  return res;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const registry = new BreakerRegistry();
  const guard = new HttpGuard<object>(
    { name: 'search', registry, clock, failureThreshold: 10, ...options },
    'test',
  );
  const enter = async (res: ServerResponse = response()): Promise<RequestCall> => {
    const entry = await guard.enter({}, res);
    if (!(entry instanceof RequestCall)) throw new Error('not admitted');
    observeResponse(res, entry, () => undefined);
    return entry;
  };
  return { clock, registry, guard, enter };
}

describe('the deadline and the bulkhead slot', () => {
  it('frees the slot when the deadline answers for a handler that had not begun', async () => {
    const { clock, enter } = setup({ callTimeout: 100, bulkhead: { maxConcurrent: 1 } });
    const late = await enter();
    late.startDeadline(() => {});
    clock.advance(100);
    await settle();
    expect(await enter()).toBeInstanceOf(RequestCall);
  });

  it('keeps the slot until the end of an answer the handler had begun', async () => {
    const { clock, guard, enter } = setup({ callTimeout: 100, bulkhead: { maxConcurrent: 1 } });
    const res = response();
    const late = await enter(res);
    late.startDeadline(() => {});
    res.begin();
    clock.advance(100);
    await settle();
    expect(await guard.enter({}, response())).toMatchObject({ reason: 'bulkhead-full' });
    res.close();
    await settle();
    expect(await enter()).toBeInstanceOf(RequestCall);
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ timeouts: 1, failures: 1, successes: 0 });
  });

  it('frees the slot when the answer to the timeout begins it', async () => {
    const { clock, enter } = setup({ callTimeout: 100, bulkhead: { maxConcurrent: 1 } });
    const res = response();
    const late = await enter(res);
    late.startDeadline(() => res.begin());
    clock.advance(100);
    await settle();
    expect(await enter()).toBeInstanceOf(RequestCall);
  });

  it('times out a call that has no response to look at, and frees its slot', async () => {
    const { clock, guard } = setup({ callTimeout: 50, bulkhead: { maxConcurrent: 1 } });
    const breaker = guard.breakerFor({});
    const timeouts: unknown[] = [];
    const call = new RequestCall(
      breaker,
      breaker.acquire(),
      () => false,
      undefined,
      () => timeouts.push('freed'),
    );
    call.startDeadline((error) => timeouts.push(error.message));
    clock.advance(50);
    expect(timeouts).toHaveLength(2);
    expect(timeouts[1]).toBe('freed');
  });
});

describe("the request's signal", () => {
  it('aborts with the reason the adapter gives, once the answer is out', async () => {
    const { enter } = setup();
    const call = await enter();
    const reason = new Error('deadline answered');
    call.abort(reason);
    expect(call.signal.aborted).toBe(true);
    expect(call.signal.reason).toBe(reason);
  });

  it('is not aborted by a hang-up after the outcome is recorded', async () => {
    const { enter } = setup();
    const call = await enter();
    call.finish(200);
    call.hangUp();
    expect(call.signal.aborted).toBe(false);
  });

  it('tells a hang-up in plain words', () => {
    const error = new ClientClosedError();
    expect(error.message).toBe('The client closed the connection before the answer');
    expect(error).toMatchObject({ name: 'AbortError', code: 'BREAKER_CLIENT_CLOSED' });
  });
});

describe('outcomes', () => {
  it('records a failing status once, however often it is reported', async () => {
    const { enter, guard } = setup();
    const call = await enter();
    expect(call.finish(500)).toBe(true);
    expect(call.finish(500)).toBe(false);
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ failures: 1 });
  });

  it('leaves stack traces of later errors whole after standing a status for the error', async () => {
    const { enter } = setup();
    (await enter()).finish(500);
    expect(new Error('after').stack).toMatch(/\n\s+at /);
  });
});

describe('registry events', () => {
  it('reports a fallback answer with the breaker name and the reason', () => {
    const { guard, registry } = setup();
    const events: unknown[] = [];
    registry.on('fallback', (event) => events.push(event));
    guard.fellBack({ reason: 'open', breaker: 'search:eu', retryAfterMs: 1_000, error: new Error('x') });
    expect(events).toEqual([{ name: 'search:eu', reason: 'open' }]);
  });
});
