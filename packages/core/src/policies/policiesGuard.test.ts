import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { compose } from './compose.js';
import { fallback } from './FallbackPolicy.js';
import type { Fireable } from './Policy.js';
import { retry } from './RetryPolicy.js';

function refusal(value: unknown): InvalidOptionError {
  try {
    compose(retry(), value as Fireable);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('compose() accepted it');
}

describe('policies: what counts as one', () => {
  it('compose() refuses null and functions, even a function with execute or fire', () => {
    expect(refusal(null).message).toBe(
      'compose() argument 2 must be a policy (an object with execute()) or a circuit breaker ' +
        '(an object with fire()); received null.',
    );
    expect(refusal(Object.assign(() => 'x', { execute: () => Promise.resolve('x') })).option).toBe(
      'policies[1]',
    );
    expect(refusal(Object.assign(() => 'x', { fire: () => Promise.resolve('x') })).option).toBe(
      'policies[1]',
    );
    expect(refusal('retry').option).toBe('policies[1]');
  });

  it('a policy called without a signal still hands the function one, not yet aborted', async () => {
    for (const policy of [retry(), fallback('cached')]) {
      const signal = await policy.execute(({ signal }) => signal);
      expect(signal).toBeInstanceOf(AbortSignal);
      expect((signal as AbortSignal).aborted).toBe(false);
    }
  });
});
