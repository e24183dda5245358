import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../testing.js';
import { bulkhead } from './BulkheadPolicy.js';
import { BulkheadRejectedError } from './BulkheadRejectedError.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A call that ends after `ms` on `clock`. */
const takes = (clock: ManualClock, ms: number) => () =>
  new Promise<string>((resolve) => clock.setTimeout(() => resolve(`${ms} ms`), ms));

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

describe('bulkhead queue', () => {
  it('a queued call without queueTimeout waits as long as it takes, with no timer of its own', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ clock, maxConcurrent: 1, maxQueue: 1 });
    const running = deferred<string>();
    void policy.execute(() => running.promise);
    const waiting = policy.execute(() => 'second');
    expect(clock.pendingTimers).toBe(0);
    clock.advance(24 * 3_600_000);
    await settle();
    expect(policy.stats()).toMatchObject({ active: 1, queued: 1, rejected: 0, queueTimeouts: 0 });
    running.resolve('first');
    await expect(waiting).resolves.toBe('second');
  });

  it('a queued caller that aborts as its slot frees is never run, and the slot passes to the next', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ clock, maxConcurrent: 1, maxQueue: 2 });
    const running = deferred<string>();
    const first = policy.execute(() => running.promise);
    const controller = new AbortController();
    const gaveUp = vi.fn(() => 'never');
    const leaving = policy.execute(gaveUp, { signal: controller.signal }).catch((e: unknown) => e);
    const next = policy.execute(() => 'next');
    await settle();
    const reason = new Error('client gone');
    // The caller hears that the running call ended a moment after the bulkhead does.
    void running.promise.then(() => undefined).then(() => controller.abort(reason));
    running.resolve('first');
    await expect(first).resolves.toBe('first');
    expect(await leaving).toBe(reason);
    await expect(next).resolves.toBe('next');
    expect(gaveUp).not.toHaveBeenCalled();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(policy.stats()).toMatchObject({ active: 0, queued: 0, admitted: 2, aborted: 1, rejected: 0 });
  });
});

describe('bulkhead retry hint', () => {
  it('follows recent call durations, weighing the newest by a fifth', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ clock, maxConcurrent: 1 });
    /** Runs a call of `ms`; returns the hint a newcomer turned away meanwhile gets. */
    const run = async (ms: number) => {
      const call = policy.execute(takes(clock, ms));
      const error = (await policy.execute(() => 'x').catch((e: unknown) => e)) as BulkheadRejectedError;
      clock.advance(ms);
      await call;
      return error.retryAfterMs;
    };
    expect(await run(100)).toBe(0);
    expect(await run(600)).toBe(100);
    expect(await run(100)).toBe(200);
    expect(await run(0)).toBe(180);
  });

  it('counts the queue ahead, shared among the slots', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ clock, maxConcurrent: 2, maxQueue: 3 });
    const first = policy.execute(takes(clock, 400));
    clock.advance(400);
    await first;
    const running = deferred<void>();
    for (let i = 0; i < 5; i++) void policy.execute(() => running.promise);
    const error = (await policy.execute(() => 'x').catch((e: unknown) => e)) as BulkheadRejectedError;
    expect(error.reason).toBe('full');
    // Three queued and this one, two slots, 400 ms each.
    expect(error.retryAfterMs).toBe(800);
    running.resolve();
  });
});
