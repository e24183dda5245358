import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { BreakerRegistry } from './registry.js';
import { MemoryStore } from './store.js';
import { ManualClock } from './testing.js';

const defaults: ResolvedOptions = {
  name: 'breaker',
  failureThreshold: 5,
  successThreshold: 1,
  timeout: 10_000,
  timeoutMultiplier: 1,
  maxTimeout: 300_000,
  timeoutJitter: 0,
  halfOpenMaxConcurrent: 1,
  halfOpenPermitTimeout: 10_000,
  callTimeout: undefined,
  recoveryDuration: 0,
  recoveryInitialRate: 10,
  isFailure: undefined,
  window: undefined,
  minimumCalls: 10,
  failureRateThreshold: undefined,
  slowCallDuration: undefined,
  slowCallRateThreshold: undefined,
  clock: systemClock,
  random: Math.random,
  store: undefined,
  initialState: undefined,
};

function refusal(options: unknown): string {
  try {
    resolveOptions(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return `${(error as InvalidOptionError).option}: ${(error as Error).message}`;
  }
  return 'accepted';
}

describe('resolved options', () => {
  it('fill in every default', () => {
    expect(resolveOptions(undefined)).toEqual(defaults);
    expect(resolveOptions({})).toEqual(defaults);
  });

  it('keep every option given', () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const isFailure = () => true;
    const random = () => 0.5;
    const given = {
      name: 'partner',
      failureThreshold: 3,
      successThreshold: 2,
      timeout: 2_000,
      timeoutMultiplier: 2,
      maxTimeout: 60_000,
      timeoutJitter: 0.2,
      halfOpenMaxConcurrent: 3,
      halfOpenPermitTimeout: 4_000,
      callTimeout: 500,
      recoveryDuration: 30_000,
      recoveryInitialRate: 25,
      isFailure,
      window: { type: 'time' as const, duration: 60_000, buckets: 6 },
      minimumCalls: 20,
      failureRateThreshold: 50,
      slowCallDuration: 1_000,
      slowCallRateThreshold: 80,
      clock,
      random,
      store,
    };
    expect(resolveOptions(given)).toEqual({ ...given, initialState: undefined });
  });

  it('the longest open time defaults to the larger of timeout and five minutes', () => {
    expect(resolveOptions({ timeout: 600_000 }).maxTimeout).toBe(600_000);
    expect(resolveOptions({ timeout: 1_000 }).maxTimeout).toBe(300_000);
    expect(resolveOptions({ timeout: 1_000, maxTimeout: 1_000 }).maxTimeout).toBe(1_000);
  });

  it('a trial permit lasts as long as the open time, and at least the call timeout and 1 ms', () => {
    expect(resolveOptions({ timeout: 3_000 }).halfOpenPermitTimeout).toBe(3_000);
    expect(resolveOptions({ timeout: 3_000, callTimeout: 5_000 }).halfOpenPermitTimeout).toBe(5_000);
    expect(resolveOptions({ timeout: 0 }).halfOpenPermitTimeout).toBe(1);
    expect(resolveOptions({ timeout: 0, halfOpenPermitTimeout: 7 }).halfOpenPermitTimeout).toBe(7);
  });

  it('a rate rule turns the consecutive rule off unless it is set, and brings a count window', () => {
    expect(resolveOptions({ slowCallRateThreshold: 50, slowCallDuration: 100 })).toMatchObject({
      failureThreshold: Number.POSITIVE_INFINITY,
      window: { type: 'count', size: 100 },
    });
    expect(resolveOptions({ failureRateThreshold: 50, failureThreshold: 4 })).toMatchObject({
      failureThreshold: 4,
      window: { type: 'count', size: 100 },
    });
  });

  it('a window without its size or buckets takes the defaults', () => {
    expect(resolveOptions({ window: { type: 'count' } }).window).toEqual({ type: 'count', size: 100 });
    expect(resolveOptions({ window: { type: 'time', duration: 5_000 } }).window).toEqual({
      type: 'time',
      duration: 5_000,
      buckets: 10,
    });
  });

  it('minimumCalls may equal the size of a count window, not exceed it', () => {
    expect(refusal({ window: { type: 'count', size: 10 } })).toBe('accepted');
    expect(refusal({ window: { type: 'count', size: 10 }, minimumCalls: 11 })).toMatchInlineSnapshot(
      `"minimumCalls: Invalid CircuitBreaker option "minimumCalls": expected at most the window size (10), or the rate rule could never open the breaker; received 11."`,
    );
    expect(refusal({ window: { type: 'time', duration: 100 }, minimumCalls: 1_000 })).toBe('accepted');
  });

  it('the slow-call rate needs slowCallDuration; the slow-call duration alone is fine', () => {
    expect(refusal({ slowCallDuration: 100 })).toBe('accepted');
    expect(refusal({ slowCallRateThreshold: 20, slowCallDuration: 0 })).toBe('accepted');
  });

  it('maxTimeout may equal timeout, not be less', () => {
    expect(refusal({ timeout: 0, maxTimeout: 0 })).toBe('accepted');
    expect(refusal({ timeout: 1, maxTimeout: 0 })).toMatchInlineSnapshot(
      `"maxTimeout: Invalid CircuitBreaker option "maxTimeout": expected at least \`timeout\` (1); received 0."`,
    );
  });
});

describe('initialState and the name', () => {
  const saved = {
    version: 1,
    name: 'partner',
    state: 'closed',
    round: 3,
    openedAt: null,
    openUntil: null,
    trips: 0,
  } as const;

  it('a breaker without a name takes the name of its snapshot', () => {
    expect(resolveOptions({ initialState: saved }).name).toBe('partner');
  });

  it('a named breaker takes only a snapshot of its own name', () => {
    expect(resolveOptions({ name: 'partner', initialState: saved }).initialState).toEqual(saved);
    expect(refusal({ name: 'billing', initialState: saved })).toMatchInlineSnapshot(
      `"initialState.name: Invalid CircuitBreaker option "initialState.name": expected the breaker's own name "billing"; received "partner"."`,
    );
  });
});

describe('options shared by a registry', () => {
  it('breakers made with one set of options each have their own name and the same settings', () => {
    const registry = new BreakerRegistry({ defaults: { timeout: 2_000 } });
    const options = { failureThreshold: 2, clock: new ManualClock() };
    const a = registry.get('a', options);
    const b = registry.get('b', options);
    expect(a.options.name).toBe('a');
    expect(b.options.name).toBe('b');
    expect({ ...b.options }).toMatchObject({ name: 'b' });
    expect(a.options.failureThreshold).toBe(2);
    expect(b.options.failureThreshold).toBe(2);
    expect(b.options.timeout).toBe(2_000);
    expect(b.options.successThreshold).toBe(1);
    registry.dispose();
  });

  it("a breaker's own options read as complete options", () => {
    const breaker = new CircuitBreaker({ name: 'partner', timeout: 1_000 });
    expect({ ...breaker.options }).toMatchObject({ name: 'partner', timeout: 1_000 });
    expect(breaker.options.failureThreshold).toBe(5);
    expect(breaker.options.maxTimeout).toBe(300_000);
  });
});
