import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import type { BreakerOptions } from './options.js';
import { ManualClock } from './testing.js';

function make(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ name: 'partner', clock, ...options });
  return { clock, breaker };
}

/** A call that takes `ms` on the manual clock before it ends with `outcome`. */
function taking(clock: ManualClock, ms: number, outcome: () => unknown) {
  return () => {
    clock.advance(ms);
    return outcome();
  };
}

describe('durations in per-call events', () => {
  it('a success listener alone makes the breaker time its calls', async () => {
    const { breaker, clock } = make();
    const events: unknown[] = [];
    breaker.on('success', (event) => events.push(event));
    await breaker.fire(taking(clock, 40, () => 'ok'));
    expect(events).toEqual([{ durationMs: 40, slow: false, stale: false }]);
  });

  it('a failure listener alone makes the breaker time its calls', async () => {
    const { breaker, clock } = make({ failureThreshold: 5 });
    const events: unknown[] = [];
    breaker.on('failure', (event) => events.push(event));
    const error = new Error('down');
    await breaker.fire(taking(clock, 30, () => Promise.reject(error))).catch(() => {});
    expect(events).toEqual([{ error, durationMs: 30, slow: false, stale: false }]);
  });

  it('an ignored listener alone makes the breaker time its calls', async () => {
    const { breaker, clock } = make({ isFailure: () => false });
    const events: unknown[] = [];
    breaker.on('ignored', (event) => events.push(event));
    const error = new Error('not the upstream');
    await breaker.fire(taking(clock, 20, () => Promise.reject(error))).catch(() => {});
    expect(events).toEqual([{ error, durationMs: 20, stale: false }]);
    expect(breaker.stats().counts).toMatchObject({ ignored: 1, failures: 0, successes: 0 });
  });

  it('other listeners leave untimed calls at a duration of 0', async () => {
    const { breaker, clock } = make({ isFailure: (error) => error !== 'ignore me' });
    breaker.on('reject', () => {});
    breaker.on('timeout', () => {});
    breaker.on('state-change', () => {});
    const seen: number[] = [];
    await breaker
      .fire(() => {
        clock.advance(10);
        breaker.on('ignored', (event) => seen.push(event.durationMs));
        return Promise.reject('ignore me');
      })
      .catch(() => {});
    expect(seen).toEqual([0]);
  });
});

describe('the open event', () => {
  it('tells how long the breaker stays open and how many times it tripped', () => {
    const { breaker, clock } = make({ failureThreshold: 1, timeout: 1_000, timeoutMultiplier: 3 });
    const opens: unknown[] = [];
    breaker.on('open', (event) => opens.push(event));
    const first = clock.now();
    breaker.acquire().failure(new Error('down'));
    clock.advance(1_000);
    breaker.acquire().failure(new Error('still down'));
    expect(opens).toEqual([
      {
        from: 'closed',
        to: 'open',
        reason: 'consecutive-failures',
        at: first,
        retryAfterMs: 1_000,
        trips: 1,
      },
      {
        from: 'half-open',
        to: 'open',
        reason: 'trial-failure',
        at: first + 1_000,
        retryAfterMs: 3_000,
        trips: 2,
      },
    ]);
  });

  it('a jittered open time is a whole number of milliseconds', () => {
    const { breaker } = make({
      failureThreshold: 1,
      timeout: 1_000,
      timeoutJitter: 0.5,
      random: () => 1 / 3,
    });
    const opens: number[] = [];
    breaker.on('open', (event) => opens.push(event.retryAfterMs));
    breaker.acquire().failure(new Error('down'));
    expect(opens).toEqual([833]);
    expect(breaker.stats().retryAfterMs).toBe(833);
  });

  it("an error's own open time is capped at maxTimeout", () => {
    const { breaker } = make({ timeout: 1_000, maxTimeout: 5_000 });
    const opens: unknown[] = [];
    breaker.on('open', (event) => opens.push([event.reason, event.retryAfterMs, event.trips]));
    breaker.acquire().failure(Object.assign(new Error('429'), { retryAfterMs: 9_000 }));
    expect(opens).toEqual([['retry-after', 5_000, 1]]);
  });

  it('forceOpen opens for no set time, gives timeout as the hint and counts no trip', () => {
    const { breaker, clock } = make({ timeout: 7_000 });
    const opens: unknown[] = [];
    breaker.on('open', (event) => opens.push(event));
    breaker.forceOpen();
    expect(opens).toEqual([
      {
        from: 'closed',
        to: 'forced-open',
        reason: 'force-open',
        at: clock.now(),
        retryAfterMs: 7_000,
        trips: 0,
      },
    ]);
    expect(clock.pendingTimers).toBe(0);
    expect(breaker.stats()).toMatchObject({ trips: 0, openedAt: null, retryAfterMs: 7_000 });
  });
});

describe('half-open and close events', () => {
  it('carry the state change they announce', () => {
    const { breaker, clock } = make({ failureThreshold: 1, timeout: 1_000 });
    const seen: unknown[] = [];
    breaker.on('half-open', (event) => seen.push(['half-open', event]));
    breaker.on('close', (event) => seen.push(['close', event]));
    const start = clock.now();
    breaker.acquire().failure(new Error('down'));
    clock.advance(1_000);
    breaker.acquire().success();
    expect(seen).toEqual([
      ['half-open', { from: 'open', to: 'half-open', reason: 'timeout-elapsed', at: start + 1_000 }],
      ['close', { from: 'half-open', to: 'closed', reason: 'trial-success', at: start + 1_000 }],
    ]);
  });

  it('disable tells only the state change', () => {
    const { breaker, clock } = make();
    const seen: unknown[] = [];
    for (const name of ['open', 'half-open', 'close'] as const) breaker.on(name, () => seen.push(name));
    breaker.on('state-change', (event) => seen.push(event));
    breaker.disable();
    expect(seen).toEqual([{ from: 'closed', to: 'disabled', reason: 'disable', at: clock.now() }]);
  });
});

describe('the reject event', () => {
  it('carries the rejection the caller gets', async () => {
    const { breaker } = make({ failureThreshold: 1, timeout: 2_500 });
    const rejections: BreakerOpenError[] = [];
    breaker.on('reject', ({ error }) => rejections.push(error));
    breaker.acquire().failure(new Error('down'));
    const caught = await breaker.fire(() => 'never').catch((error: unknown) => error);
    expect(() => breaker.acquire()).toThrow(BreakerOpenError);
    expect(rejections).toHaveLength(2);
    expect(rejections[0]).toBe(caught);
    expect(rejections[0]!.message).toMatchInlineSnapshot(`"Circuit breaker "partner" is open; retry in 3 s"`);
    expect(breaker.stats().counts.rejections).toBe(2);
  });
});

describe('timeouts', () => {
  it('a permit that fails with a CallTimeoutError counts a timeout and tells it', () => {
    const { breaker } = make({ failureThreshold: 5 });
    const events: unknown[] = [];
    breaker.on('timeout', (event) => events.push(event));
    breaker.on('failure', (event) => events.push(event));
    const error = new CallTimeoutError('partner', 500);
    breaker.acquire().failure(error);
    expect(events).toEqual([
      { error, stale: false },
      { error, durationMs: 0, slow: false, stale: false },
    ]);
    expect(breaker.stats().counts).toMatchObject({ timeouts: 1, failures: 1, stale: 0 });
  });

  it('a timed-out call rejects with the whole message and aborts the signal it was given', async () => {
    const { breaker, clock } = make({ callTimeout: 250 });
    let signal: AbortSignal | undefined;
    const call = breaker.fire((context) => {
      signal = context.signal;
      return new Promise(() => {});
    });
    const outcome = call.catch((error: unknown) => error);
    clock.advance(249);
    expect(signal!.aborted).toBe(false);
    clock.advance(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as Error).message).toMatchInlineSnapshot(
      `"Call through circuit breaker "partner" timed out after 250 ms"`,
    );
    expect(signal!.reason).toBe(error);
    expect(clock.pendingTimers).toBe(0);
  });
});
