import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../testing.js';
import { retry } from './RetryPolicy.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('retry: odd failures and aborts', () => {
  it('retries a failure that is null like any other when retryOn says so', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, attempts: 2, budget: false, random: () => 0, retryOn: () => true });
    const upstream = vi.fn(() => Promise.reject(null as unknown));
    await expect(policy.execute(upstream)).rejects.toBeNull();
    expect(upstream).toHaveBeenCalledTimes(2);
  });

  it('ignores a retryAfterMs that is not a number', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, attempts: 2, budget: false, random: () => 0.5, baseDelay: 100 });
    const upstream = vi.fn(() => Promise.reject(Object.assign(new Error('busy'), { retryAfterMs: '5000' })));
    const call = policy.execute(upstream).catch((e: unknown) => e);
    await settle();
    clock.advance(50);
    await settle();
    expect(upstream).toHaveBeenCalledTimes(2);
    expect(await call).toMatchObject({ message: 'busy' });
  });

  it('a caller who aborts on hearing of a retry gets the abort at once, and no backoff timer is left', async () => {
    const clock = new ManualClock();
    const policy = retry({ clock, attempts: 3, budget: false, random: () => 0.5 });
    const controller = new AbortController();
    const reason = new Error('client gone');
    policy.on('retry', () => controller.abort(reason));
    const upstream = vi.fn(() => Promise.reject(new Error('down')));
    await expect(policy.execute(upstream, { signal: controller.signal })).rejects.toBe(reason);
    expect(upstream).toHaveBeenCalledTimes(1);
    expect(clock.pendingTimers).toBe(0);
    expect(policy.stats()).toMatchObject({ aborted: 1, retries: 1 });
  });
});
