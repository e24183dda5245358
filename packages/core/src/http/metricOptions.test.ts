import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { checkOptionKeys, invalidOption, isBucketBounds, isMaxBreakers } from './metricOptions.js';

// The option checks the metrics collectors share (@breaker/prometheus, @breaker/opentelemetry).
describe('metrics collector options', () => {
  it('maxBreakers is a whole number of at least 1', () => {
    expect([1, 2, 1_000].map(isMaxBreakers)).toEqual([true, true, true]);
    expect(
      [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '5', null, undefined].map(isMaxBreakers),
    ).toEqual(Array(8).fill(false));
  });

  it('buckets are a non-empty list of increasing, positive, finite seconds', () => {
    expect(isBucketBounds([0.005, 0.1, 1])).toBe(true);
    expect(isBucketBounds([2])).toBe(true);
    for (const bad of [
      [],
      [0],
      [-1, 1],
      [1, 1],
      [2, 1],
      [0.1, Number.POSITIVE_INFINITY],
      [Number.NaN],
      ['1'],
      '1',
      null,
      {},
    ]) {
      expect(isBucketBounds(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('refuses a non-object and an unknown key, naming the option meant', () => {
    const known = ['prefix', 'buckets'];
    const hints = { bucket: '`buckets`' };
    expect(() => checkOptionKeys('collectMetrics()', undefined, known, hints)).not.toThrow();
    expect(() => checkOptionKeys('collectMetrics()', { prefix: 'x' }, known, hints)).not.toThrow();
    const messages = [5, null, { bucket: [1] }, { colour: 'red' }].map((options) => {
      try {
        checkOptionKeys('collectMetrics()', options as object, known, hints);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionError);
        return `${(error as InvalidOptionError).option}: ${(error as Error).message}`;
      }
      return 'accepted';
    });
    expect(messages).toEqual([
      'options: Invalid collectMetrics() options: expected an object; received 5.',
      'options: Invalid collectMetrics() options: expected an object; received null.',
      'bucket: Unknown collectMetrics() option "bucket"; did you mean "`buckets`"? Known options: prefix, buckets.',
      'colour: Unknown collectMetrics() option "colour" Known options: prefix, buckets.',
    ]);
  });

  it('names the option, what is allowed and what was given, showing a list as it is', () => {
    const list = invalidOption('collectMetrics()', 'buckets', 'increasing seconds', [3, 2, 1]);
    expect(list).toBeInstanceOf(InvalidOptionError);
    expect(list.option).toBe('buckets');
    expect(list.message).toBe(
      'Invalid collectMetrics() option "buckets": expected increasing seconds; received [3,2,1].',
    );
    expect(invalidOption('c', 'maxBreakers', 'a whole number', 'ten').message).toBe(
      'Invalid c option "maxBreakers": expected a whole number; received "ten".',
    );
  });
});
