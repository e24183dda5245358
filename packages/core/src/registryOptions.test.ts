import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { BreakerRegistry } from './registry.js';
import { ManualClock } from './testing.js';

/** The error `make` throws. */
function thrown(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  throw new Error('nothing was thrown');
}

describe('BreakerRegistry option checks', () => {
  it('refuses a maxSize below one or not whole, naming the option', () => {
    for (const maxSize of [0, 2.5, -1]) {
      const error = thrown(() => new BreakerRegistry({ maxSize }));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({
        option: 'maxSize',
        message: `Invalid BreakerRegistry option "maxSize": expected a whole number of at least 1; received ${maxSize}.`,
      });
    }
  });

  it('refuses an unknown option, naming the known ones', () => {
    const error = thrown(() => new BreakerRegistry({ size: 5 } as never));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({
      option: 'size',
      message: 'Unknown BreakerRegistry option "size". Known options: defaults, overrides, maxSize.',
    });
  });

  it('names the override a bad option came from', () => {
    const error = thrown(
      () => new BreakerRegistry({ overrides: { search: {}, payments: { failureThreshold: 0 } } }),
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({
      option: 'failureThreshold',
      message:
        'Invalid BreakerRegistry overrides["payments"] option "failureThreshold": expected a whole number of at least 1; received 0.',
    });
  });

  it('gives each name its own overrides, not those of a name made before it', () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      defaults: { clock, failureThreshold: 3 },
      overrides: { search: { failureThreshold: 10 }, ads: { failureThreshold: 7, timeout: 500 } },
    });
    expect(registry.get('search').options).toMatchObject({ failureThreshold: 10, timeout: 10_000 });
    expect(registry.get('ads').options).toMatchObject({ failureThreshold: 7, timeout: 500 });
    expect(registry.get('payments').options).toMatchObject({ failureThreshold: 3, timeout: 10_000 });
    expect(registry.get('orders').options).toMatchObject({ failureThreshold: 3, timeout: 10_000 });
  });
});

describe('BreakerRegistry brand', () => {
  const brand = Symbol.for('@breaker/core/registry');

  it('instanceof is false for null, primitives and functions, even a function that carries the brand', () => {
    const values: unknown[] = [null, undefined, 5, 'registry', Object.assign(() => {}, { [brand]: true })];
    for (const value of values) expect(value instanceof BreakerRegistry).toBe(false);
  });

  it('instanceof is false for an object whose brand is anything but true', () => {
    expect({ [brand]: 'yes' } instanceof BreakerRegistry).toBe(false);
    expect({ [brand]: 1 } instanceof BreakerRegistry).toBe(false);
    expect({ [brand]: true } instanceof BreakerRegistry).toBe(true);
  });
});
