import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { BreakerOptions } from './options.js';
import { ManualClock } from './testing.js';

// Calls with a deadline or a caller's signal take a path of their own: the outcomes there count the
// same as anywhere else.
const PATHS: [string, Partial<BreakerOptions>, () => AbortSignal | undefined][] = [
  ['callTimeout', { callTimeout: 1_000 }, () => undefined],
  ["a caller's signal", {}, () => new AbortController().signal],
  ['both', { callTimeout: 1_000 }, () => new AbortController().signal],
];

describe.each(PATHS)('calls with %s', (_path, extra, signal) => {
  const make = (options: BreakerOptions = {}) => {
    const clock = new ManualClock();
    return { clock, breaker: new CircuitBreaker({ clock, ...extra, ...options }) };
  };
  const fire = <T>(breaker: CircuitBreaker, fn: () => T | Promise<T>) =>
    breaker.fire(fn, { signal: signal() });

  it('count a success, which resets the run of failures', async () => {
    const { breaker } = make({ failureThreshold: 2 });
    const successes: number[] = [];
    breaker.on('success', () => successes.push(1));
    await expect(fire(breaker, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(fire(breaker, () => 'up')).resolves.toBe('up');
    await expect(fire(breaker, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(breaker.state).toBe('closed');
    expect(successes).toHaveLength(1);
    expect(breaker.stats().counts).toMatchObject({ successes: 1, failures: 2 });
  });

  it('count a rejection as a failure', async () => {
    const { breaker } = make({ failureThreshold: 1 });
    await expect(fire(breaker, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    expect(breaker.stats().counts.failures).toBe(1);
  });

  it('count a synchronous throw as a failure, rejecting with it', async () => {
    const { breaker } = make({ failureThreshold: 1 });
    const error = new Error('thrown at once');
    const failures: unknown[] = [];
    breaker.on('failure', (event) => failures.push(event.error));
    await expect(
      fire(breaker, () => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(failures).toEqual([error]);
    expect(breaker.state).toBe('open');
  });

  it('pass a call that rejects with null through, as a failure', async () => {
    const { breaker } = make({ failureThreshold: 1 });
    await expect(fire(breaker, () => Promise.reject(null))).rejects.toBeNull();
    expect(breaker.state).toBe('open');
  });
});

describe('calls without a deadline or signal', () => {
  it('pass a call that rejects with null through, as a failure', async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock(), failureThreshold: 1 });
    await expect(breaker.fire(() => Promise.reject(null))).rejects.toBeNull();
    expect(breaker.state).toBe('open');
  });
});
