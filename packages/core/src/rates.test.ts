import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { BreakerOptions } from './options.js';
import { ManualClock } from './testing.js';

function setup(options: BreakerOptions) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ clock, ...options });
  const reasons: string[] = [];
  breaker.on('open', (event) => reasons.push(event.reason));
  const call = (ok: boolean, durationMs = 0) =>
    breaker
      .fire(() => {
        clock.advance(durationMs);
        if (!ok) throw new Error('failed');
        return 'ok';
      })
      .catch(() => undefined);
  return { clock, breaker, call, reasons };
}

describe('failure rate over a count window', () => {
  it('opens when the rate reaches the threshold once minimumCalls are in', async () => {
    const { breaker, call, reasons } = setup({
      failureRateThreshold: 50,
      minimumCalls: 4,
      window: { type: 'count', size: 10 },
    });
    await call(false);
    await call(false);
    await call(false);
    expect(breaker.state).toBe('closed');
    await call(true);
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['failure-rate']);
  });

  it('stays closed below the threshold', async () => {
    const { breaker, call } = setup({ failureRateThreshold: 50, minimumCalls: 4 });
    for (let i = 0; i < 40; i++) await call(i % 3 !== 2);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().window!.failureRate).toBeCloseTo(32.5, 5);
  });

  it('turns the consecutive rule off unless failureThreshold is given too', async () => {
    const rateOnly = setup({ failureRateThreshold: 100, minimumCalls: 10 });
    for (let i = 0; i < 9; i++) await rateOnly.call(false);
    expect(rateOnly.breaker.state).toBe('closed');
    const both = setup({ failureRateThreshold: 100, minimumCalls: 10, failureThreshold: 3 });
    for (let i = 0; i < 3; i++) await both.call(false);
    expect(both.breaker.state).toBe('open');
    expect(both.reasons).toEqual(['consecutive-failures']);
  });

  it('old outcomes leave the window as new ones arrive', async () => {
    const { breaker, call } = setup({
      failureRateThreshold: 50,
      minimumCalls: 4,
      window: { type: 'count', size: 4 },
    });
    await call(false);
    for (let i = 0; i < 4; i++) await call(true);
    await call(false);
    await call(false);
    expect(breaker.state).toBe('open');
  });
});

describe('failure rate over a time window', () => {
  it('forgets failures after an idle gap', async () => {
    const { breaker, clock, call } = setup({
      failureRateThreshold: 50,
      minimumCalls: 5,
      window: { type: 'time', duration: 60_000, buckets: 6 },
    });
    for (let i = 0; i < 4; i++) await call(false);
    clock.advance(5 * 60_000);
    await call(false);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().window).toMatchObject({ calls: 1, failures: 1 });
  });

  it('opens on failures within the window', async () => {
    const { breaker, clock, call } = setup({
      failureRateThreshold: 50,
      minimumCalls: 5,
      window: { type: 'time', duration: 60_000, buckets: 6 },
    });
    for (let i = 0; i < 5; i++) {
      await call(false);
      clock.advance(5_000);
    }
    expect(breaker.state).toBe('open');
  });
});

describe('slow calls', () => {
  it('opens when the slow-call rate reaches its threshold, even if every call succeeds', async () => {
    const { breaker, call, reasons } = setup({
      slowCallDuration: 1_000,
      slowCallRateThreshold: 50,
      minimumCalls: 4,
    });
    await call(true, 10);
    await call(true, 10);
    await call(true, 1_000);
    expect(breaker.state).toBe('closed');
    await call(true, 2_000);
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['slow-call-rate']);
  });

  it('marks slow calls in events and the window', async () => {
    const { breaker, call } = setup({ slowCallDuration: 100, failureRateThreshold: 100 });
    const slow: boolean[] = [];
    breaker.on('success', (event) => slow.push(event.slow));
    await call(true, 50);
    await call(true, 150);
    expect(slow).toEqual([false, true]);
    expect(breaker.stats().window).toMatchObject({ calls: 2, slow: 1, slowCallRate: 50 });
  });
});

describe('slow calls, below and around the rule', () => {
  it('stays closed while the slow-call rate is below its threshold', async () => {
    const { breaker, call } = setup({ slowCallDuration: 100, slowCallRateThreshold: 50, minimumCalls: 4 });
    for (let i = 0; i < 40; i++) await call(true, i % 4 === 0 ? 150 : 10);
    expect(breaker.stats().window?.slowCallRate).toBeLessThan(50);
    expect(breaker.state).toBe('closed');
  });

  it('never opens for slow calls without a slow-call rule, however many there are', async () => {
    const { breaker, call } = setup({ slowCallDuration: 100, failureRateThreshold: 50, minimumCalls: 2 });
    for (let i = 0; i < 10; i++) await call(true, 500);
    expect(breaker.stats().window).toMatchObject({ calls: 10, slow: 10, slowCallRate: 100 });
    expect(breaker.state).toBe('closed');
  });

  it('counts a slow failure as slow: in its event, in the window and against the slow-call rule', async () => {
    const { breaker, call, reasons } = setup({
      slowCallDuration: 100,
      slowCallRateThreshold: 50,
      failureRateThreshold: 100,
      minimumCalls: 2,
    });
    const slow: boolean[] = [];
    breaker.on('failure', (event) => slow.push(event.slow));
    await call(true, 10);
    expect(breaker.state).toBe('closed');
    await call(false, 200);
    expect(slow).toEqual([true]);
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['slow-call-rate']);
  });

  it('lets slow calls age out of a time window', async () => {
    const { breaker, call, clock } = setup({
      slowCallDuration: 100,
      failureRateThreshold: 100,
      window: { type: 'time', duration: 10_000, buckets: 10 },
    });
    await call(true, 150);
    await call(true, 150);
    expect(breaker.stats().window).toMatchObject({ calls: 2, slow: 2 });
    clock.advance(5_000);
    await call(true, 10);
    expect(breaker.stats().window).toMatchObject({ calls: 3, slow: 2 });
    clock.advance(6_000);
    expect(breaker.stats().window).toMatchObject({ calls: 1, slow: 0, slowCallRate: 0 });
  });

  it.each([
    ['count', { type: 'count', size: 10 }],
    ['time', { type: 'time', duration: 10_000, buckets: 10 }],
  ] as const)('forgets slow calls on reset (%s window)', async (_kind, window) => {
    const { breaker, call } = setup({ slowCallDuration: 100, failureRateThreshold: 100, window });
    await call(true, 150);
    await call(false, 150);
    expect(breaker.stats().window).toMatchObject({ calls: 2, failures: 1, slow: 2 });
    breaker.reset();
    expect(breaker.stats().window).toMatchObject({
      calls: 0,
      failures: 0,
      slow: 0,
      failureRate: 0,
      slowCallRate: 0,
    });
  });
});

describe('cost per call', () => {
  it('does the same work per failure with 100 or 100 000 calls in the window', async () => {
    for (const size of [100, 100_000]) {
      const { breaker, call } = setup({
        failureRateThreshold: 100,
        minimumCalls: size,
        window: { type: 'count', size },
      });
      for (let i = 0; i < size; i++) await call(i % 2 === 0);
      expect(breaker.stats().window).toMatchObject({ calls: size, failures: size / 2 });
    }
  }, 60_000);
});
