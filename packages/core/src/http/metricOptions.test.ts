import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import {
  BUCKETS_ALLOWED,
  MAX_BREAKERS_ALLOWED,
  checkOptionKeys,
  invalidOption,
  isBucketBounds,
  isMaxBreakers,
} from './metricOptions.js';

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
    const long = invalidOption(
      'c',
      'buckets',
      BUCKETS_ALLOWED,
      Array.from({ length: 40 }, (_, i) => i + 0.5),
    );
    expect(long.message).toBe(
      'Invalid c option "buckets": expected a non-empty array of increasing positive numbers of seconds; received [0.5,1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5,9.5,10.5,11.5,12.5,13.5.',
    );
    expect(invalidOption('c', 'maxBreakers', MAX_BREAKERS_ALLOWED, 0).message).toBe(
      'Invalid c option "maxBreakers": expected a whole number of at least 1; received 0.',
    );
    expect(invalidOption('c', 'maxBreakers', 'a whole number', 'ten').message).toBe(
      'Invalid c option "maxBreakers": expected a whole number; received "ten".',
    );
  });
});
