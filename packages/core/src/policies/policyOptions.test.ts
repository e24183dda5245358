import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { bulkhead } from './BulkheadPolicy.js';
import type { BulkheadOptions } from './bulkheadOptions.js';
import { fallback } from './FallbackPolicy.js';
import { retry } from './RetryPolicy.js';
import type { RetryOptions } from './retryOptions.js';

function thrown(make: () => unknown): InvalidOptionError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toBeInstanceOf(TypeError);
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError');
}

const badRetry = (options: unknown) => thrown(() => retry(options as RetryOptions));
const badBulkhead = (options: unknown) => thrown(() => bulkhead(options as BulkheadOptions));

describe('policy options', () => {
  it('retry() names the option, what it allows and what it got', () => {
    expect(badRetry({ attempts: 0 })).toMatchObject({
      option: 'attempts',
      message: 'Invalid retry() option "attempts": expected a whole number of at least 1; received 0.',
    });
    expect(badRetry({ baseDelay: -1 }).message).toBe(
      'Invalid retry() option "baseDelay": expected a finite number of milliseconds of at least 0; received -1.',
    );
    expect(badRetry({ baseDelay: 500, maxDelay: 200 }).message).toBe(
      'Invalid retry() option "maxDelay": expected at least `baseDelay` (500); received 200.',
    );
    expect(badRetry({ retryOn: true }).option).toBe('retryOn');
    expect(badRetry({ random: 0.5 }).message).toBe(
      'Invalid retry() option "random": expected a function returning a number in [0, 1); received 0.5.',
    );
    expect(badRetry({ clock: {} }).option).toBe('clock');
  });

  it('retry() checks the budget, key by key', () => {
    expect(badRetry({ budget: { ratio: -0.1 } })).toMatchObject({
      option: 'budget.ratio',
      message:
        'Invalid retry() option "budget.ratio": expected a finite number of at least 0; received -0.1.',
    });
    expect(badRetry({ budget: { window: 0 } }).option).toBe('budget.window');
    expect(badRetry({ budget: true }).message).toBe(
      'Invalid retry() option "budget": expected an object { ratio, minPerSecond, window } or false; received true.',
    );
    expect(badRetry({ budget: { percent: 20 } }).option).toBe('budget.percent');
  });

  it('suggests our name for a misspelt key or another library`s', () => {
    expect(badRetry({ attemps: 2 }).message).toBe(
      'Unknown retry() option "attemps". Did you mean `attempts`? ' +
        'Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.',
    );
    expect(badRetry({ retries: 2 }).message).toContain(
      'Did you mean `attempts` (tries in all, the first included: retries + 1)?',
    );
    expect(badBulkhead({ maxConcurrent: 2, maxWaitDuration: 100 }).message).toContain(
      'Did you mean `queueTimeout`?',
    );
  });

  it('bulkhead() requires maxConcurrent and checks the rest', () => {
    expect(badBulkhead(undefined).message).toBe(
      'Invalid bulkhead() option "maxConcurrent": expected a whole number of at least 1; received undefined.',
    );
    expect(badBulkhead({ limit: 10 }).message).toContain(
      'Did you mean `maxConcurrent` (cockatiel calls it limit)?',
    );
    expect(badBulkhead({ maxConcurrent: 2.5 }).option).toBe('maxConcurrent');
    expect(badBulkhead({ maxConcurrent: 2, maxQueue: -1 }).option).toBe('maxQueue');
    expect(badBulkhead({ maxConcurrent: 2, queueTimeout: 0 }).option).toBe('queueTimeout');
    expect(badBulkhead({ maxConcurrent: 2, name: '' }).option).toBe('name');
  });

  it('bulkhead() wants a non-empty string for its name', () => {
    expect(badBulkhead({ maxConcurrent: 2, name: '' }).message).toBe(
      'Invalid bulkhead() option "name": expected a non-empty string; received "".',
    );
    expect(badBulkhead({ maxConcurrent: 2, name: 7 }).message).toBe(
      'Invalid bulkhead() option "name": expected a non-empty string; received 7.',
    );
  });

  it('fallback() checks `when`, and every factory wants an object', () => {
    expect(thrown(() => fallback(1, { when: 'yes' } as never)).message).toBe(
      'Invalid fallback() option "when": expected a function (error) => boolean; received "yes".',
    );
    expect(badRetry(3).message).toBe('retry() options must be an object; received 3.');
    expect(badBulkhead([]).message).toBe('bulkhead() options must be an object; received an array.');
  });
});
