import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { InvalidOptionError } from './errors.js';
import type { BreakerOptions } from './options.js';

function errorFor(options: unknown): InvalidOptionError {
  try {
    new CircuitBreaker(options as BreakerOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected the options to be rejected');
}

describe('defaults', () => {
  it('every option has a default', () => {
    const breaker = new CircuitBreaker();
    expect(breaker.options).toMatchObject({
      name: 'breaker',
      failureThreshold: 5,
      successThreshold: 1,
      timeout: 10_000,
      halfOpenMaxConcurrent: 1,
      callTimeout: undefined,
      window: undefined,
    });
    expect(breaker.state).toBe('closed');
  });

  it('a rate rule brings a count window of 100 and minimumCalls 10', () => {
    const { options } = new CircuitBreaker({ failureRateThreshold: 50 });
    expect(options.window).toEqual({ type: 'count', size: 100 });
    expect(options.minimumCalls).toBe(10);
    expect(options.failureThreshold).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('validation', () => {
  it.each([
    [{ failureThreshold: 0 }, 'failureThreshold', 'a whole number of at least 1', 'received 0'],
    [{ failureThreshold: 2.5 }, 'failureThreshold', 'a whole number of at least 1', 'received 2.5'],
    [{ successThreshold: '2' }, 'successThreshold', 'a whole number of at least 1', 'received "2"'],
    [{ timeout: -1 }, 'timeout', 'milliseconds', 'received -1'],
    [{ timeout: Number.NaN }, 'timeout', 'milliseconds', 'received NaN'],
    [{ callTimeout: 0 }, 'callTimeout', 'at least 1', 'received 0'],
    [{ failureRateThreshold: 150 }, 'failureRateThreshold', 'a percentage', 'received 150'],
    [{ halfOpenMaxConcurrent: 0 }, 'halfOpenMaxConcurrent', 'at least 1', 'received 0'],
    [{ timeoutJitter: 2 }, 'timeoutJitter', 'from 0 to 1', 'received 2'],
    [{ isFailure: true }, 'isFailure', 'a function', 'received true'],
    [{ name: '' }, 'name', 'a non-empty string', 'received ""'],
    [{ window: { type: 'count', size: 0 } }, 'window.size', 'from 1 to 1000000', 'received 0'],
    [{ window: { type: 'sliding' } }, 'window.type', '{ type: "count", size }', 'received "sliding"'],
    [{ window: { type: 'time' } }, 'window.duration', 'milliseconds', 'received undefined'],
    [{ clock: {} }, 'clock', 'now()', 'received an object'],
  ])('%j names %s, what is allowed and the value', (options, option, allowed, received) => {
    const error = errorFor(options);
    expect(error.option).toBe(option);
    expect(error.code).toBe('BREAKER_INVALID_OPTION');
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toContain(allowed);
    expect(error.message).toContain(received);
  });

  it('rejects options that contradict each other', () => {
    expect(errorFor({ timeout: 5_000, maxTimeout: 1_000 }).option).toBe('maxTimeout');
    expect(errorFor({ slowCallRateThreshold: 50 }).option).toBe('slowCallDuration');
    expect(errorFor({ failureRateThreshold: 50, window: { type: 'count', size: 5 } }).option).toBe(
      'minimumCalls',
    );
  });

  it('rejects a non-object', () => {
    expect(errorFor(42).message).toContain('must be an object');
  });

  it.each([
    ['resetTimeout', 'timeout'],
    ['errorThresholdPercentage', 'failureRateThreshold'],
    ['volumeThreshold', 'minimumCalls'],
    ['halfOpenAfter', 'timeout'],
    ['errorFilter', 'isFailure'],
    ['slidingWindowSize', 'window'],
  ])('an unknown key from another library (%s) hints at %s', (key, hint) => {
    const error = errorFor({ [key]: 1 });
    expect(error.option).toBe(key);
    expect(error.message).toContain(`Unknown CircuitBreaker option "${key}"`);
    expect(error.message).toContain(`Did you mean \`${hint}`);
  });

  it('a misspelt key suggests the nearest option', () => {
    const error = errorFor({ failureTreshold: 3 });
    expect(error.message).toContain('Did you mean `failureThreshold`?');
  });

  it('an unknown key without a near match lists the known options', () => {
    const error = errorFor({ colour: 'red' });
    expect(error.message).toContain('Known options: name, failureThreshold');
  });
});
