import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { Clock } from './clock.js';
import { BreakerOpenError } from './errors.js';
import { ManualClock } from './testing.js';

/** A clock whose timers are late: they never fire, as when the event loop is blocked past them. */
function lateTimers(start = 1_000_000): Clock & { set(now: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimeout: () => Symbol('timer'),
    clearTimeout: () => {},
    set(next: number) {
      now = next;
    },
  };
}

describe('the open time, read from the clock when a call comes', () => {
  it('admits a trial at the very millisecond the open time ends, though the timer has not fired', async () => {
    const clock = lateTimers();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1, timeout: 5_000 });
    await breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
    clock.set(1_000_000 + 4_999);
    await expect(breaker.fire(() => 'early')).rejects.toBeInstanceOf(BreakerOpenError);
    clock.set(1_000_000 + 5_000);
    await expect(breaker.fire(() => 'trial')).resolves.toBe('trial');
    expect(breaker.state).toBe('closed');
  });
});

describe("an error's own open time (retryAfterMs)", () => {
  const failWith = (breaker: CircuitBreaker, retryAfterMs: unknown) =>
    breaker.fire(() => Promise.reject(Object.assign(new Error('429'), { retryAfterMs }))).catch(() => {});

  it('opens the breaker for that long, whatever the threshold', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 5, timeout: 60_000 });
    const reasons: string[] = [];
    breaker.on('open', (event) => reasons.push(event.reason));
    await failWith(breaker, 2_000);
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['retry-after']);
    const rejection = await breaker.fire(() => 'x').catch((error: unknown) => error);
    expect(rejection).toMatchObject({ retryAfterMs: 2_000 });
    clock.advance(2_000);
    expect(breaker.state).toBe('half-open');
  });

  it.each([
    ['zero', 0],
    ['negative', -5],
    ['infinite', Number.POSITIVE_INFINITY],
    ['not a number', Number.NaN],
    ['a string', '2000'],
  ])('is not taken when it is %s: the failure counts as any other', async (_what, retryAfterMs) => {
    const breaker = new CircuitBreaker({ clock: new ManualClock(), failureThreshold: 2, timeout: 60_000 });
    await failWith(breaker, retryAfterMs);
    expect(breaker.state).toBe('closed');
    await failWith(breaker, retryAfterMs);
    expect(breaker.state).toBe('open');
    const rejection = await breaker.fire(() => 'x').catch((error: unknown) => error);
    expect(rejection).toMatchObject({ retryAfterMs: 60_000 });
  });
});
