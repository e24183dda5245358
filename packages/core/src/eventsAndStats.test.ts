import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { CallTimeoutError } from './errors.js';
import type { BreakerOptions } from './options.js';
import { retry } from './policies/RetryPolicy.js';
import { ManualClock } from './testing.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ clock, ...options });
  const changes: string[] = [];
  breaker.on('state-change', (event) => changes.push(`${event.from}>${event.to}:${event.reason}`));
  return { clock, breaker, changes };
}

describe('rates before any call', () => {
  it('are 0, not NaN, with and without a window', () => {
    expect(setup().breaker.stats()).toMatchObject({ failureRate: 0, window: null });
    const windowed = setup({ failureRateThreshold: 50, slowCallDuration: 100 }).breaker.stats();
    expect(windowed.failureRate).toBe(0);
    expect(windowed.window).toEqual({ calls: 0, failures: 0, slow: 0, failureRate: 0, slowCallRate: 0 });
  });

  it('without a window, are failures over decided calls', async () => {
    const { breaker } = setup({ failureThreshold: 10 });
    await breaker.fire(() => 'ok');
    await breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
    await breaker.fire(() => 'ok');
    await breaker.fire(() => 'ok');
    expect(breaker.stats().failureRate).toBe(25);
  });
});

describe('transition reasons', () => {
  it('disable, then reset', () => {
    const { breaker, changes } = setup();
    breaker.disable();
    expect(breaker.state).toBe('disabled');
    breaker.reset();
    expect(changes).toEqual(['closed>disabled:disable', 'disabled>closed:reset']);
  });

  it('probe-expired: a trial permit held past halfOpenPermitTimeout opens the breaker again', async () => {
    const { breaker, clock, changes } = setup({
      failureThreshold: 1,
      timeout: 1_000,
      halfOpenPermitTimeout: 5_000,
    });
    await breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
    clock.advance(1_000);
    const trial = breaker.acquire();
    clock.advance(4_999);
    expect(() => breaker.acquire()).toThrow(expect.objectContaining({ state: 'half-open' }));
    clock.advance(1);
    expect(() => breaker.acquire()).toThrow(expect.objectContaining({ state: 'open' }));
    expect(changes.at(-1)).toBe('half-open>open:probe-expired');
    trial.success();
    expect(breaker.state).toBe('open');
  });
});

describe('timeouts in events and counts', () => {
  it('a timeout counts as a failure and a timeout, and is fresh', async () => {
    const { breaker, clock } = setup({ callTimeout: 1_000, failureThreshold: 5 });
    const events: { stale: boolean; error: unknown }[] = [];
    breaker.on('timeout', (event) => events.push(event));
    const call = breaker.fire(() => new Promise(() => {}));
    const outcome = expect(call).rejects.toBeInstanceOf(CallTimeoutError);
    clock.advance(1_000);
    await outcome;
    expect(events).toEqual([{ stale: false, error: expect.any(CallTimeoutError) }]);
    expect(breaker.stats().counts).toMatchObject({ failures: 1, timeouts: 1, stale: 0 });
  });

  it('a call that times out after the breaker changed state is stale: counted apart, its event says so', async () => {
    const { breaker, clock } = setup({ callTimeout: 1_000, failureThreshold: 1 });
    const events: { stale: boolean }[] = [];
    breaker.on('timeout', (event) => events.push(event));
    const call = breaker.fire(() => new Promise(() => {}));
    const outcome = expect(call).rejects.toBeInstanceOf(CallTimeoutError);
    breaker.forceOpen();
    breaker.reset();
    clock.advance(1_000);
    await outcome;
    expect(events).toMatchObject([{ stale: true }]);
    expect(breaker.stats().counts).toMatchObject({ timeouts: 0, stale: 1, failures: 0 });
    expect(breaker.state).toBe('closed');
  });
});

describe('retry policy counts', () => {
  it('counts calls that failed for good and calls the caller aborted', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, attempts: 2, baseDelay: 100, random: () => 0.5, budget: false });
    const failing = expect(policy.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await settle();
    clock.advance(50);
    await failing;
    const controller = new AbortController();
    const waiting = policy.execute(() => Promise.reject(new Error('busy')), { signal: controller.signal });
    const aborted = expect(waiting).rejects.toBe('stop');
    await settle();
    controller.abort('stop');
    await aborted;
    expect(policy.stats()).toMatchObject({ calls: 2, successes: 0, failures: 1, aborted: 1 });
  });
});
