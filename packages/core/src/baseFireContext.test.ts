import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { CallTimeoutError } from './errors.js';
import type { FireContext } from './context.js';
import { ManualClock } from './testing.js';

const never = () => new Promise<never>(() => {});

describe("the guarded function's signal", () => {
  it('is one signal per call, the same each time the function reads it', async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock() });
    const signals: AbortSignal[] = [];
    await breaker.fire(({ signal }) => {
      signals.push(signal, signal);
    });
    await breaker.fire((context) => {
      signals.push(context.signal);
    });
    expect(signals[0]).toBe(signals[1]);
    expect(signals[2]).not.toBe(signals[0]);
    expect(signals.map((signal) => signal.aborted)).toEqual([false, false, false]);
  });

  it('is aborted with the timeout error when the call runs past callTimeout', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'slow', clock, callTimeout: 100 });
    let signal: AbortSignal | undefined;
    const call = breaker.fire((context) => {
      signal = context.signal;
      return never();
    });
    expect(signal!.aborted).toBe(false);
    clock.advance(100);
    await expect(call).rejects.toBeInstanceOf(CallTimeoutError);
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(CallTimeoutError);
    expect((signal!.reason as Error).message).toBe(
      'Call through circuit breaker "slow" timed out after 100 ms',
    );
  });

  it('read only after the call timed out, it is already aborted with the timeout error', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, callTimeout: 50 });
    let context: FireContext | undefined;
    const call = breaker.fire((received) => {
      context = received;
      return never();
    });
    clock.advance(50);
    const error = await call.catch((reason: unknown) => reason);
    expect(context!.signal.aborted).toBe(true);
    expect(context!.signal.reason).toBe(error);
  });

  it("is aborted with the caller's reason when the caller gives up, whenever it is read", async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock() });
    const controller = new AbortController();
    let context: FireContext | undefined;
    let early: AbortSignal | undefined;
    const call = breaker.fire(
      (received) => {
        context = received;
        return never();
      },
      { signal: controller.signal },
    );
    const other = new AbortController();
    const second = breaker.fire(
      (received) => {
        early = received.signal;
        return never();
      },
      { signal: other.signal },
    );
    const reason = new Error('client left');
    controller.abort(reason);
    other.abort(reason);
    await expect(call).rejects.toBe(reason);
    await expect(second).rejects.toBe(reason);
    expect(context!.signal.aborted).toBe(true);
    expect(context!.signal.reason).toBe(reason);
    expect(early!.aborted).toBe(true);
    expect(early!.reason).toBe(reason);
  });

  it('stays unaborted for a call that settled in time', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, callTimeout: 50 });
    let context: FireContext | undefined;
    await breaker.fire((received) => {
      context = received;
      return 'done';
    });
    clock.advance(1_000);
    expect(context!.signal.aborted).toBe(false);
  });
});
