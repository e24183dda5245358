import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { resolveOptions } from './options.js';
import { retry } from './policies/RetryPolicy.js';
import { ManualClock } from './testing.js';

/** The option named and the whole message, as a user reads them. */
function refusal(check: () => unknown): string {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return `${(error as InvalidOptionError).option}: ${(error as Error).message}`;
  }
  return 'accepted';
}

const breaker = (options: unknown) => refusal(() => resolveOptions(options as never));
const refusals = (cases: Record<string, () => string>) =>
  Object.fromEntries(Object.entries(cases).map(([label, check]) => [label, check()]));

describe('whole numbers', () => {
  it('refuse a non-number, a fraction, a value below the least and above the most', () => {
    expect(
      refusals({
        text: () => breaker({ failureThreshold: '3' }),
        fraction: () => breaker({ failureThreshold: 2.5 }),
        'below the least': () => breaker({ halfOpenMaxConcurrent: -3 }),
        'no upper bound': () => breaker({ minimumCalls: Number.MAX_SAFE_INTEGER }),
        'past the safe integers': () => breaker({ minimumCalls: 2 ** 53 }),
        'above the most': () => breaker({ window: { type: 'count', size: 1_000_001 } }),
        'the most': () => breaker({ window: { type: 'count', size: 1_000_000 }, minimumCalls: 1 }),
        'the least': () => breaker({ window: { type: 'time', duration: 1, buckets: 1 } }),
        'fraction with a range': () => breaker({ window: { type: 'time', duration: 1, buckets: 1.5 } }),
      }),
    ).toMatchInlineSnapshot(`
      {
        "above the most": "window.size: Invalid CircuitBreaker option "window.size": expected a whole number from 1 to 1000000; received 1000001.",
        "below the least": "halfOpenMaxConcurrent: Invalid CircuitBreaker option "halfOpenMaxConcurrent": expected a whole number of at least 1; received -3.",
        "fraction": "failureThreshold: Invalid CircuitBreaker option "failureThreshold": expected a whole number of at least 1; received 2.5.",
        "fraction with a range": "window.buckets: Invalid CircuitBreaker option "window.buckets": expected a whole number from 1 to 10000; received 1.5.",
        "no upper bound": "accepted",
        "past the safe integers": "minimumCalls: Invalid CircuitBreaker option "minimumCalls": expected a whole number of at least 1; received 9007199254740992.",
        "text": "failureThreshold: Invalid CircuitBreaker option "failureThreshold": expected a whole number of at least 1; received "3".",
        "the least": "accepted",
        "the most": "accepted",
      }
    `);
  });
});

describe('milliseconds', () => {
  it('refuse a non-number, a value below the least and an infinite one', () => {
    expect(
      refusals({
        text: () => breaker({ callTimeout: '100' }),
        'below the least': () => breaker({ callTimeout: 0.5 }),
        infinite: () => breaker({ timeout: Number.POSITIVE_INFINITY }),
        'the least': () => breaker({ callTimeout: 1, timeout: 0 }),
        fraction: () => breaker({ slowCallDuration: 0.25 }),
      }),
    ).toMatchInlineSnapshot(`
      {
        "below the least": "callTimeout: Invalid CircuitBreaker option "callTimeout": expected a finite number of milliseconds of at least 1; received 0.5.",
        "fraction": "accepted",
        "infinite": "timeout: Invalid CircuitBreaker option "timeout": expected a finite number of milliseconds of at least 0; received Infinity.",
        "text": "callTimeout: Invalid CircuitBreaker option "callTimeout": expected a finite number of milliseconds of at least 1; received "100".",
        "the least": "accepted",
      }
    `);
  });
});

describe('non-negative numbers', () => {
  it('refuse a non-number, a negative and an infinite number', () => {
    const budget = (value: unknown) => refusal(() => retry({ budget: value as never }));
    expect(
      refusals({
        text: () => budget({ ratio: 'half' }),
        negative: () => budget({ ratio: -0.5 }),
        infinite: () => budget({ ratio: Number.POSITIVE_INFINITY }),
        zero: () => budget({ ratio: 0, minPerSecond: 0 }),
        'a fraction': () => budget({ ratio: 0.1, minPerSecond: 0.5 }),
      }),
    ).toMatchInlineSnapshot(`
      {
        "a fraction": "accepted",
        "infinite": "budget: Invalid retry() option "budget": expected an object { ratio, minPerSecond, window } or false; received an object.",
        "negative": "budget.ratio: Invalid retry() option "budget.ratio": expected a finite number of at least 0; received -0.5.",
        "text": "budget: Invalid retry() option "budget": expected an object { ratio, minPerSecond, window } or false; received an object.",
        "zero": "accepted",
      }
    `);
  });
});

describe('functions and clocks', () => {
  it('take a function only where a function is due', () => {
    expect(
      refusals({
        'an object': () => breaker({ isFailure: {} }),
        'a function': () => breaker({ isFailure: () => true, random: Math.random }),
      }),
    ).toMatchInlineSnapshot(`
      {
        "a function": "accepted",
        "an object": "isFailure: Invalid CircuitBreaker option "isFailure": expected a function (error) => boolean; received an object.",
      }
    `);
  });

  it('take as a clock an object with all three of now, setTimeout and clearTimeout', () => {
    const whole = { now: () => 0, setTimeout: () => 1, clearTimeout: () => {} };
    const callable = Object.assign(() => 0, whole);
    expect(
      refusals({
        null: () => breaker({ clock: null }),
        'a function': () => breaker({ clock: callable }),
        'no now': () => breaker({ clock: { ...whole, now: undefined } }),
        'now not a function': () => breaker({ clock: { ...whole, now: 5 } }),
        'no setTimeout': () => breaker({ clock: { ...whole, setTimeout: undefined } }),
        'no clearTimeout': () => breaker({ clock: { ...whole, clearTimeout: 'x' } }),
        'a hand-made clock': () => breaker({ clock: whole }),
        'a ManualClock': () => breaker({ clock: new ManualClock() }),
      }),
    ).toMatchInlineSnapshot(`
      {
        "a ManualClock": "accepted",
        "a function": "clock: Invalid CircuitBreaker option "clock": expected an object with now(), setTimeout() and clearTimeout(); received a function.",
        "a hand-made clock": "accepted",
        "no clearTimeout": "clock: Invalid CircuitBreaker option "clock": expected an object with now(), setTimeout() and clearTimeout(); received an object.",
        "no now": "clock: Invalid CircuitBreaker option "clock": expected an object with now(), setTimeout() and clearTimeout(); received an object.",
        "no setTimeout": "clock: Invalid CircuitBreaker option "clock": expected an object with now(), setTimeout() and clearTimeout(); received an object.",
        "now not a function": "clock: Invalid CircuitBreaker option "clock": expected an object with now(), setTimeout() and clearTimeout(); received an object.",
        "null": "clock: Invalid CircuitBreaker option "clock": expected an object with now(), setTimeout() and clearTimeout(); received null.",
      }
    `);
  });
});
