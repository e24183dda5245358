import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { Clock } from './clock.js';
import type { BreakerOptions } from './options.js';
import type { BreakerSnapshot } from './snapshot.js';
import { ManualClock } from './testing.js';

function make(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({
    name: 'partner',
    clock,
    failureThreshold: 1,
    timeout: 1_000,
    ...options,
  });
  return { clock, breaker };
}

/** A clock whose timers the test fires by hand, if at all, and which tells what it was asked for. */
function handClock(start = 1_000_000) {
  let now = start;
  const timers: { fn: () => void; ms: number; options: unknown }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, ms, options) {
      timers.push({ fn, ms, options });
      return timers.length;
    },
    clearTimeout() {},
  };
  return {
    clock,
    timers,
    set: (time: number) => void (now = time),
  };
}

describe('retryAfterMs in stats', () => {
  it('is 0 while calls are admitted or trials may be, and timeout while forced open', () => {
    const { breaker, clock } = make({ timeout: 3_000 });
    const readings: [string, number][] = [];
    const read = () => readings.push([breaker.state, breaker.stats().retryAfterMs]);
    read();
    breaker.acquire().failure(new Error('down'));
    clock.advance(1_000);
    read();
    clock.advance(2_000);
    read();
    breaker.forceOpen();
    read();
    breaker.disable();
    read();
    expect(readings).toEqual([
      ['closed', 0],
      ['open', 2_000],
      ['half-open', 0],
      ['forced-open', 3_000],
      ['disabled', 0],
    ]);
  });

  it('is 0 during a recovery ramp, which stats describe', () => {
    const { breaker, clock } = make({ recoveryDuration: 10_000, recoveryInitialRate: 20 });
    breaker.acquire().failure(new Error('down'));
    clock.advance(1_000);
    breaker.acquire().success();
    clock.advance(2_500);
    expect(breaker.stats()).toMatchObject({
      state: 'closed',
      retryAfterMs: 0,
      recovery: { until: clock.now() + 7_500, admittedRate: 40 },
    });
  });
});

describe('a recovery', () => {
  it('without recoveryDuration, closes plainly after the trials', () => {
    const { breaker, clock } = make();
    breaker.acquire().failure(new Error('down'));
    clock.advance(1_000);
    breaker.acquire().success();
    expect(breaker.stats()).toMatchObject({ state: 'closed', recovery: null });
  });

  it('records successes during the ramp in the window', () => {
    const { breaker, clock } = make({
      recoveryDuration: 10_000,
      recoveryInitialRate: 100,
      failureRateThreshold: 50,
      minimumCalls: 100,
      window: { type: 'count', size: 100 },
    });
    breaker.acquire().failure(new Error('down'));
    clock.advance(1_000);
    breaker.acquire().success();
    breaker.acquire().success();
    breaker.acquire().success();
    expect(breaker.stats().window).toMatchObject({ calls: 2, failures: 0 });
  });
});

describe('failureRate in stats', () => {
  it('with a window, is the rate of the calls in the window, not of every call ever counted', () => {
    const { breaker } = make({
      failureThreshold: 100,
      failureRateThreshold: 90,
      minimumCalls: 2,
      window: { type: 'count', size: 2 },
    });
    breaker.acquire().failure(new Error('down'));
    breaker.acquire().success();
    breaker.acquire().success();
    expect(breaker.stats()).toMatchObject({
      failureRate: 0,
      window: { calls: 2, failures: 0, failureRate: 0 },
      counts: { successes: 2, failures: 1 },
    });
  });
});

describe('the open timer', () => {
  it('is asked of the clock for the time left, as a timer that lets the process exit', () => {
    const { clock, timers } = handClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1, timeout: 4_000 });
    breaker.acquire().failure(new Error('down'));
    expect(timers.map(({ ms, options }) => [ms, options])).toEqual([[4_000, { unref: true }]]);
  });

  it('is not set by a disposed breaker, which still turns half-open when read after the time', () => {
    const { breaker, clock } = make();
    breaker.dispose();
    breaker.acquire().failure(new Error('down'));
    expect(breaker.state).toBe('open');
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
  });

  it('is not set for a saved state that is not open', () => {
    for (const state of ['closed', 'half-open', 'forced-open', 'disabled'] as const) {
      const clock = new ManualClock();
      const snapshot: BreakerSnapshot = {
        version: 1,
        name: 'partner',
        state,
        round: 2,
        openedAt: null,
        openUntil: null,
        trips: 0,
      };
      const breaker = new CircuitBreaker({ name: 'partner', clock, initialState: snapshot });
      expect(breaker.state).toBe(state);
      expect(clock.pendingTimers).toBe(0);
    }
  });
});

describe('an open breaker whose timer is late', () => {
  function late() {
    const hand = handClock();
    const breaker = new CircuitBreaker({ clock: hand.clock, failureThreshold: 1, timeout: 1_000 });
    const changes: string[] = [];
    breaker.on('state-change', (event) => changes.push(`${event.from}>${event.to}:${event.reason}`));
    breaker.acquire().failure(new Error('down'));
    hand.set(1_001_000);
    return { breaker, changes };
  }

  it('turns half-open for the elapsed timeout when its state is read', () => {
    const { breaker, changes } = late();
    expect(breaker.state).toBe('half-open');
    expect(changes).toEqual(['closed>open:consecutive-failures', 'open>half-open:timeout-elapsed']);
  });

  it('turns half-open for the elapsed timeout when a call comes', () => {
    const { breaker, changes } = late();
    breaker.acquire().success();
    expect(changes).toEqual([
      'closed>open:consecutive-failures',
      'open>half-open:timeout-elapsed',
      'half-open>closed:trial-success',
    ]);
  });
});
