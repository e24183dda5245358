import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { BreakerError } from '../errors.js';
import { ManualClock } from '../testing.js';
import { bulkhead } from './BulkheadPolicy.js';
import { BulkheadRejectedError } from './BulkheadRejectedError.js';
import type { BulkheadOptions } from './bulkheadOptions.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred<T = unknown>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function setup(options: Partial<BulkheadOptions> = {}) {
  const clock = new ManualClock();
  const policy = bulkhead({ clock, name: 'partner', maxConcurrent: 2, ...options });
  const calls: ReturnType<typeof deferred>[] = [];
  const hold = vi.fn(() => {
    const call = deferred();
    calls.push(call);
    return call.promise;
  });
  return { clock, policy, calls, hold };
}

describe('bulkhead', () => {
  it('runs maxConcurrent calls and turns the next away at once, without calling it', async () => {
    const { policy, hold, calls } = setup();
    const first = policy.execute(hold);
    void policy.execute(hold);
    const rejected = vi.fn();
    policy.on('reject', rejected);
    const third = vi.fn(() => 'never');
    const error = await policy.execute(third).catch((e: unknown) => e);
    expect(third).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error).toBeInstanceOf(BreakerError);
    expect(error).toMatchObject({ code: 'BREAKER_BULKHEAD_FULL', bulkhead: 'partner', reason: 'full' });
    expect((error as Error).message).toBe(
      'Bulkhead "partner" is full: every slot is busy and its queue has no room',
    );
    expect(rejected).toHaveBeenCalledWith({ error });
    expect(policy.stats()).toMatchObject({ active: 2, queued: 0, admitted: 2, rejected: 1 });
    calls[0]!.resolve('ok');
    await expect(first).resolves.toBe('ok');
    expect(policy.stats().active).toBe(1);
  });

  it('frees the slot of a call that fails, even synchronously', async () => {
    const { policy } = setup({ maxConcurrent: 1 });
    await expect(policy.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(
      policy.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
    expect(policy.stats().active).toBe(0);
  });

  it('queues up to maxQueue calls and starts them in arrival order as slots free', async () => {
    const { policy, hold, calls } = setup({ maxConcurrent: 1, maxQueue: 2 });
    const queued = vi.fn();
    policy.on('queue', queued);
    const results = [policy.execute(hold), policy.execute(hold), policy.execute(hold)];
    await expect(policy.execute(hold)).rejects.toMatchObject({ reason: 'full' });
    expect(queued.mock.calls).toEqual([[{ queued: 1 }], [{ queued: 2 }]]);
    expect(hold).toHaveBeenCalledTimes(1);
    expect(policy.stats()).toMatchObject({ active: 1, queued: 2 });
    calls[0]!.resolve('a');
    await settle();
    expect(hold).toHaveBeenCalledTimes(2);
    expect(policy.stats()).toMatchObject({ active: 1, queued: 1 });
    calls[1]!.resolve('b');
    await settle();
    calls[2]!.resolve('c');
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c']);
    expect(policy.stats()).toMatchObject({ active: 0, queued: 0, admitted: 3, rejected: 1 });
  });

  it('turns a queued call away after queueTimeout, and never runs it', async () => {
    const { clock, policy, hold, calls } = setup({ maxConcurrent: 1, maxQueue: 1, queueTimeout: 500 });
    void policy.execute(hold);
    const waiting = policy.execute(hold).catch((e: unknown) => e);
    clock.advance(499);
    expect(policy.stats().queued).toBe(1);
    clock.advance(1);
    const error = await waiting;
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error).toMatchObject({ reason: 'queue-timeout', code: 'BREAKER_BULKHEAD_FULL' });
    expect((error as Error).message).toBe(
      'Call waited 500 ms in the queue of bulkhead "partner" without getting a slot',
    );
    expect(policy.stats()).toMatchObject({ queued: 0, rejected: 1, queueTimeouts: 1 });
    calls[0]!.resolve('done');
    await settle();
    expect(hold).toHaveBeenCalledTimes(1);
    expect(policy.stats().active).toBe(0);
  });

  it('clears the queue timer of a call that gets its slot in time', async () => {
    const { clock, policy, hold, calls } = setup({ maxConcurrent: 1, maxQueue: 1, queueTimeout: 500 });
    void policy.execute(hold);
    const second = policy.execute(hold);
    expect(clock.pendingTimers).toBe(1);
    calls[0]!.resolve('a');
    await settle();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    calls[1]!.resolve('b');
    await expect(second).resolves.toBe('b');
  });

  it('removes a queued caller that aborts at once, with its listener and timer', async () => {
    const { clock, policy, hold, calls } = setup({ maxConcurrent: 1, maxQueue: 2, queueTimeout: 500 });
    void policy.execute(hold);
    const controller = new AbortController();
    const aborted = policy.execute(hold, { signal: controller.signal });
    const next = policy.execute(hold);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('client gone');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(clock.pendingTimers).toBe(1);
    expect(policy.stats()).toMatchObject({ queued: 1, aborted: 1, rejected: 0 });
    calls[0]!.resolve('a');
    await settle();
    expect(hold).toHaveBeenCalledTimes(2);
    calls[1]!.resolve('b');
    await expect(next).resolves.toBe('b');
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects an aborted caller without taking a slot', async () => {
    const { policy } = setup();
    const reason = new Error('gone');
    const fn = vi.fn();
    await expect(policy.execute(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
    expect(policy.stats().admitted).toBe(0);
  });

  it('hands the caller`s signal to the call and keeps no listener on it', async () => {
    const { policy, hold, calls } = setup({ maxConcurrent: 1, maxQueue: 1 });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    void policy.execute(hold);
    const second = policy.execute(
      ({ signal }) => {
        seen = signal;
        return 'ok';
      },
      { signal: controller.signal },
    );
    calls[0]!.resolve('a');
    await expect(second).resolves.toBe('ok');
    expect(seen).toBe(controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('hints when a slot may free, from the duration of recent calls', async () => {
    const { clock, policy, hold, calls } = setup({ maxConcurrent: 2 });
    const error = () =>
      policy.execute(hold).then(
        () => expect.unreachable(),
        (e: unknown) => e as BulkheadRejectedError,
      );
    const a = policy.execute(hold);
    const b = policy.execute(hold);
    expect((await error()).retryAfterMs).toBe(0);
    clock.advance(300);
    calls[0]!.resolve('a');
    calls[1]!.resolve('b');
    await Promise.all([a, b]);
    void policy.execute(hold);
    void policy.execute(hold);
    expect((await error()).retryAfterMs).toBe(150);
  });
});
