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
