import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../CircuitBreaker.js';
import { CallTimeoutError } from '../errors.js';
import { ManualClock } from '../testing.js';
import { bulkhead } from './BulkheadPolicy.js';
import { fallback, type PolicyFallbackReason } from './FallbackPolicy.js';

const down = () => Promise.reject(new Error('down'));

describe('fallback', () => {
  it('answers with its value when the call fails, and passes successes through', async () => {
    const policy = fallback('cached');
    await expect(policy.execute(down)).resolves.toBe('cached');
    await expect(policy.execute(() => 'fresh')).resolves.toBe('fresh');
    expect(policy.stats()).toEqual({
      calls: 2,
      fallbacks: { open: 0, timeout: 0, 'bulkhead-full': 0, error: 1 },
    });
  });

  it('tells the handler why: open, timeout, bulkhead-full or error', async () => {
    const clock = new ManualClock();
    const seen: [PolicyFallbackReason, unknown][] = [];
    const policy = fallback((reason, error) => {
      seen.push([reason, error]);
      return reason;
    });

    const open = new CircuitBreaker({ clock, failureThreshold: 1 });
    await open.fire(down).catch(() => {});
    await expect(policy.execute(() => open.fire(() => 'x'))).resolves.toBe('open');

    const slow = new CircuitBreaker({ clock, callTimeout: 1_000 });
    const timedOut = policy.execute(() => slow.fire(() => new Promise(() => {})));
    clock.advance(1_000);
    await expect(timedOut).resolves.toBe('timeout');
    expect(seen[1]![1]).toBeInstanceOf(CallTimeoutError);

    const full = bulkhead({ maxConcurrent: 1 });
    void full.execute(() => new Promise(() => {}));
    await expect(policy.execute(() => full.execute(() => 'x'))).resolves.toBe('bulkhead-full');

    await expect(policy.execute(down)).resolves.toBe('error');
    expect(seen.map(([reason]) => reason)).toEqual(['open', 'timeout', 'bulkhead-full', 'error']);
  });

  it('emits `fallback` with the reason and the error', async () => {
    const policy = fallback(null);
    const listener = vi.fn();
    policy.on('fallback', listener);
    await policy.execute(down);
    expect(listener).toHaveBeenCalledWith({ reason: 'error', error: new Error('down') });
  });

  it('answers only for errors `when` accepts', async () => {
    const policy = fallback('cached', { when: (error) => (error as Error).message === 'down' });
    await expect(policy.execute(down)).resolves.toBe('cached');
    await expect(policy.execute(() => Promise.reject(new Error('bad request')))).rejects.toThrow(
      'bad request',
    );
  });

  it('never replaces the caller`s abort', async () => {
    const policy = fallback('cached');
    const controller = new AbortController();
    const reason = new Error('client gone');
    const call = policy.execute(
      ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      {
        signal: controller.signal,
      },
    );
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    await expect(policy.execute(() => 'x', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('awaits an async handler and rejects with the error a handler throws', async () => {
    await expect(fallback(async () => 'later').execute(down)).resolves.toBe('later');
    const broken = fallback(() => {
      throw new Error('no cache either');
    });
    await expect(broken.execute(down)).rejects.toThrow('no cache either');
  });

  it('answers with a function when a handler returns one', async () => {
    const answer = () => 'a function';
    await expect(fallback(() => answer).execute(down)).resolves.toBe(answer);
  });
});
