import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BreakerRegistry } from '../registry.js';
import { ManualClock } from '../testing.js';
import { ClientClosedError, HttpGuard, RequestCall, observeResponse } from './guard.js';

/** A response of the test: it closes when told, answered or not. */
function response(): ServerResponse & { closeNow(answered: boolean): void } {
  const res = new EventEmitter() as unknown as ServerResponse & { closeNow(answered: boolean): void };
  Object.assign(res, { statusCode: 200, writableFinished: false, headersSent: false });
  res.closeNow = (answered) => {
    Object.assign(res, { writableFinished: answered });
    res.emit('close');
  };
  return res;
}

/** A clock that counts how often the request path reads it. */
class CountingClock extends ManualClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

function admit(guard: HttpGuard<object>, res: ServerResponse): RequestCall {
  const entry = guard.enter({}, res);
  if (!(entry instanceof RequestCall)) throw new Error('not admitted');
  observeResponse(res, entry, () => undefined);
  return entry;
}

describe('the request path', () => {
  it('reads the clock once per request when nothing asks for a duration', () => {
    const clock = new CountingClock();
    const guard = new HttpGuard<object>({ name: 'p', clock, registry: new BreakerRegistry() }, 'test');
    for (let i = 0; i < 10; i++) admit(guard, response()).finish(200);
    // Admission reads it (for the open time and the permit's start); the outcome adds nothing.
    expect(clock.reads).toBe(10);
  });

  it('gives isFailure the duration from admission when it reads it', () => {
    const clock = new CountingClock();
    const seen: number[] = [];
    const guard = new HttpGuard<object>(
      {
        name: 'p',
        clock,
        registry: new BreakerRegistry(),
        isFailure: ({ status, durationMs }) => (seen.push(durationMs), status >= 500),
      },
      'test',
    );
    const call = admit(guard, response());
    clock.advance(250);
    call.finish(200);
    expect(seen).toEqual([250]);
  });

  it('makes no controller and no error for a hang-up nobody reads, and a proper one for a late reader', () => {
    const guard = new HttpGuard<object>({ name: 'p', registry: new BreakerRegistry() }, 'test');
    let controllers = 0;
    const Original = globalThis.AbortController;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        controllers++;
      }
    };
    onTestFinished(() => {
      globalThis.AbortController = Original;
    });
    const res = response();
    const call = admit(guard, res);
    res.closeNow(false);
    expect(controllers).toBe(0);
    expect(call.breaker.stats().counts).toMatchObject({ ignored: 1, successes: 0, failures: 0 });
    // A handler that reads the signal afterwards finds it aborted, with the hang-up as its reason.
    const { signal } = call;
    expect(controllers).toBe(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(ClientClosedError);
    expect(signal.reason).toMatchObject({ name: 'AbortError', code: 'BREAKER_CLIENT_CLOSED' });
  });

  it('aborts a signal already read at once, with the first reason only', () => {
    const guard = new HttpGuard<object>({ name: 'p', registry: new BreakerRegistry() }, 'test');
    const res = response();
    const call = admit(guard, res);
    const { signal } = call;
    const reasons: unknown[] = [];
    signal.addEventListener('abort', () => reasons.push(signal.reason));
    res.closeNow(false);
    call.abort(new Error('later'));
    expect(reasons).toEqual([expect.any(ClientClosedError)]);
  });
});

describe('one outcome per request', () => {
  const guardWith = (options: Record<string, unknown> = {}) =>
    new HttpGuard<object>({ name: 'p', registry: new BreakerRegistry(), ...options }, 'test');

  it('counts the status sent: a 5xx fails, anything below succeeds; later outcomes do nothing', () => {
    const guard = guardWith({ failureThreshold: 10 });
    const failed = admit(guard, response());
    expect(failed.finish(502)).toBe(true);
    expect(failed.finish(200)).toBe(false);
    expect(failed.settled).toBe(true);
    const ok = admit(guard, response());
    expect(ok.finish(404)).toBe(false);
    ok.hangUp();
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ failures: 1, successes: 1, ignored: 0 });
  });

  it('stands a failing status for the error when the framework shows none, without a stack', () => {
    const guard = guardWith({ failureThreshold: 10 });
    const errors: unknown[] = [];
    guard.breakerFor({}).on('failure', (event) => errors.push(event.error));
    admit(guard, response()).finish(503);
    expect(errors).toEqual([expect.objectContaining({ name: 'HttpStatusError', status: 503 })]);
    expect((errors[0] as Error).message).toBe('The handler answered 503');
    expect((errors[0] as Error).stack).not.toMatch(/\n\s+at /);
    const thrown = new Error('handler threw');
    admit(guard, response()).finish(500, thrown);
    expect(errors[1]).toBe(thrown);
  });

  it('lets the default decide when isFailure throws', () => {
    const guard = guardWith({
      failureThreshold: 10,
      isFailure: () => {
        throw new Error('bad rule');
      },
    });
    expect(admit(guard, response()).finish(500)).toBe(true);
    expect(admit(guard, response()).finish(200)).toBe(false);
  });

  it("counts another breaker's answer neither way", () => {
    const guard = guardWith({ failureThreshold: 1 });
    expect(admit(guard, response()).finish(503, undefined, true)).toBe(false);
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ failures: 0, ignored: 1 });
    expect(guard.breakerFor({}).state).toBe('closed');
  });

  it('at callTimeout counts a timeout and tells the adapter, once, unless the outcome came first', () => {
    const clock = new ManualClock();
    const guard = guardWith({ clock, callTimeout: 100, failureThreshold: 10 });
    const late = admit(guard, response());
    const timeouts: unknown[] = [];
    late.startDeadline((error) => timeouts.push(error));
    clock.advance(99);
    expect(timeouts).toEqual([]);
    clock.advance(1);
    expect(timeouts).toEqual([expect.objectContaining({ name: 'CallTimeoutError', timeoutMs: 100 })]);
    expect(late.finish(200)).toBe(false);
    const early = admit(guard, response());
    early.startDeadline((error) => timeouts.push(error));
    early.finish(200);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    expect(timeouts).toHaveLength(1);
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ timeouts: 1, failures: 1, successes: 1 });
  });

  it('arms no deadline without callTimeout', () => {
    const clock = new ManualClock();
    const guard = guardWith({ clock });
    admit(guard, response()).startDeadline(() => {
      throw new Error('never');
    });
    expect(clock.pendingTimers).toBe(0);
  });

  it('tells its handler the breaker name, and the signal only when read', () => {
    const guard = guardWith({ name: 'partner' });
    const call = admit(guard, response());
    const info = call.info();
    expect(info.name).toBe('partner');
    expect(info.signal).toBe(call.signal);
    expect(info.signal.aborted).toBe(false);
  });
});

describe('the bulkhead in front of the breaker', () => {
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('admits maxConcurrent at once, queues maxQueue, turns the rest away, and hands a freed slot on', async () => {
    const guard = new HttpGuard<object>(
      { name: 'p', registry: new BreakerRegistry(), bulkhead: { maxConcurrent: 1, maxQueue: 1 } },
      'test',
    );
    const first = await guard.enter({}, response());
    expect(first).toBeInstanceOf(RequestCall);
    const queued = guard.enter({}, response());
    await settle();
    const full = await guard.enter({}, response());
    expect(full).toMatchObject({ reason: 'bulkhead-full' });
    (first as RequestCall).finish(200);
    (first as RequestCall).release();
    const second = await queued;
    expect(second).toBeInstanceOf(RequestCall);
    (second as RequestCall).release();
    (second as RequestCall).release();
    expect(await guard.enter({}, response())).toBeInstanceOf(RequestCall);
  });

  it('drops a queued request whose client hangs up, and gives its place to nobody', async () => {
    const guard = new HttpGuard<object>(
      { name: 'p', registry: new BreakerRegistry(), bulkhead: { maxConcurrent: 1, maxQueue: 1 } },
      'test',
    );
    const first = (await guard.enter({}, response())) as RequestCall;
    const res = response();
    const queued = guard.enter({}, res);
    await settle();
    res.closeNow(false);
    await settle();
    expect(await queued).toBeUndefined();
    expect(res.listenerCount('close')).toBe(0);
    first.release();
    expect(await guard.enter({}, response())).toBeInstanceOf(RequestCall);
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ successes: 0, failures: 0, ignored: 0 });
  });
});
