import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../CircuitBreaker.js';
import { BreakerOpenError } from '../errors.js';
import { ManualClock } from '../testing.js';
import { retry } from './RetryPolicy.js';
import type { RetryOptions } from './retryOptions.js';

/** Lets every pending promise callback run; no time passes on the manual clock. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: RetryOptions = {}) {
  const clock = new ManualClock();
  const policy = retry({ clock, random: () => 0.5, budget: false, ...options });
  const delays: number[] = [];
  policy.on('retry', ({ delayMs }) => delays.push(delayMs));
  const failing = vi.fn(() => Promise.reject(new Error('upstream down')));
  return { clock, policy, delays, failing };
}

/** Drives a call to its end, moving the clock through every backoff. */
async function run<T>(clock: ManualClock, promise: Promise<T>): Promise<T | unknown> {
  let done = false;
  const outcome = promise.then(
    (value) => value,
    (error: unknown) => error,
  );
  void outcome.then(() => (done = true));
  while (!done) {
    await settle();
    clock.advance(60_000);
  }
  return outcome;
}

describe('retry: attempts and backoff', () => {
  it('tries `attempts` times in all and rejects with the last error', async () => {
    const { clock, policy, failing } = setup();
    const gaveUp = vi.fn();
    policy.on('give-up', gaveUp);
    const error = await run(clock, policy.execute(failing));
    expect(failing).toHaveBeenCalledTimes(3);
    expect(error).toEqual(new Error('upstream down'));
    expect(gaveUp).toHaveBeenCalledWith({ attempts: 3, reason: 'attempts', error });
  });

  it('returns the first success, and a synchronous function works too', async () => {
    const { clock, policy } = setup();
    let calls = 0;
    const value = await run(
      clock,
      policy.execute(() => {
        if (++calls < 2) throw new Error('once');
        return 'ok';
      }),
    );
    expect(value).toBe('ok');
    expect(policy.stats()).toMatchObject({ calls: 1, successes: 1, failures: 0, retries: 1 });
  });

  it('waits baseDelay × 2^n times the random share before each retry', async () => {
    const { clock, policy, delays, failing } = setup({ attempts: 5 });
    const events: unknown[] = [];
    policy.on('retry', (event) => events.push(event));
    const call = policy.execute(failing).catch(() => {});
    for (const delay of [50, 100, 200, 400]) {
      await settle();
      const before = failing.mock.calls.length;
      clock.advance(delay - 1);
      await settle();
      expect(failing).toHaveBeenCalledTimes(before);
      clock.advance(1);
      await settle();
      expect(failing).toHaveBeenCalledTimes(before + 1);
    }
    await call;
    expect(delays).toEqual([50, 100, 200, 400]);
    expect(events[0]).toEqual({ attempt: 1, delayMs: 50, error: new Error('upstream down') });
  });

  it('caps the backoff at maxDelay', async () => {
    const { clock, policy, delays, failing } = setup({
      attempts: 6,
      baseDelay: 100,
      maxDelay: 300,
      random: () => 0.999_999,
    });
    await run(clock, policy.execute(failing));
    expect(delays).toEqual([99, 199, 299, 299, 299]);
  });

  it('draws each delay from [0, cap): full jitter', async () => {
    const draws = [0, 0.25, 0.999_999, 0.5, 0.75, 0.1];
    const { clock, policy, delays, failing } = setup({ attempts: 7, random: () => draws.shift()! });
    await run(clock, policy.execute(failing));
    const caps = [100, 200, 400, 800, 1_600, 3_200];
    expect(delays).toEqual([0, 50, 399, 400, 1_200, 320]);
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(caps[i]!);
    });
  });

  it('retries at once, without a timer, when the jitter draws 0', async () => {
    const { clock, policy, failing } = setup({ random: () => 0 });
    await policy.execute(failing).catch(() => {});
    expect(failing).toHaveBeenCalledTimes(3);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: what is retried', () => {
  it('never retries a BreakerOpenError by default', async () => {
    const { policy } = setup();
    const fn = vi.fn(() => Promise.reject(new BreakerOpenError('partner', 'open', 5_000)));
    await expect(policy.execute(fn)).rejects.toBeInstanceOf(BreakerOpenError);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('stops as soon as the breaker it wraps opens', async () => {
    const { clock, policy, failing } = setup({ attempts: 5 });
    const breaker = new CircuitBreaker({ clock, failureThreshold: 2, timeout: 600_000 });
    const error = await run(
      clock,
      policy.execute(() => breaker.fire(failing)),
    );
    expect(failing).toHaveBeenCalledTimes(2);
    expect(error).toBeInstanceOf(BreakerOpenError);
  });

  it('asks retryOn, and treats a retryOn that throws as no', async () => {
    const { clock, policy } = setup({ retryOn: (error) => (error as { status?: number }).status === 503 });
    const fn = vi.fn(() => Promise.reject(Object.assign(new Error('bad request'), { status: 400 })));
    await run(clock, policy.execute(fn));
    expect(fn).toHaveBeenCalledTimes(1);
    const throwing = setup({
      retryOn: () => {
        throw new Error('bug');
      },
    });
    await expect(throwing.policy.execute(throwing.failing)).rejects.toThrow('upstream down');
    expect(throwing.failing).toHaveBeenCalledTimes(1);
  });

  it('does not retry the caller`s abort, whatever retryOn says', async () => {
    const { policy } = setup({ retryOn: () => true });
    const controller = new AbortController();
    const fn = vi.fn(({ signal }: { signal: AbortSignal }) => {
      controller.abort(new Error('client gone'));
      return Promise.reject(signal.reason as Error);
    });
    await expect(policy.execute(fn, { signal: controller.signal })).rejects.toThrow('client gone');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(policy.stats()).toMatchObject({ aborted: 1, failures: 0, retries: 0 });
  });
});

describe('retry: cancellation', () => {
  it('rejects at once when the caller aborts during the backoff, and leaves no timer or listener', async () => {
    const { clock, policy, failing } = setup();
    const controller = new AbortController();
    const call = policy.execute(failing, { signal: controller.signal });
    await settle();
    expect(clock.pendingTimers).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('client gone');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    clock.advance(60_000);
    await settle();
    expect(failing).toHaveBeenCalledTimes(1);
  });

  it('rejects an already aborted call without calling fn', async () => {
    const { policy, failing } = setup();
    const reason = new Error('gone');
    await expect(policy.execute(failing, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(failing).not.toHaveBeenCalled();
  });

  it('hands the caller`s signal to every attempt and removes its listener once done', async () => {
    const { clock, policy } = setup();
    const controller = new AbortController();
    const seen: AbortSignal[] = [];
    const value = await run(
      clock,
      policy.execute(
        ({ signal }) => {
          seen.push(signal);
          return seen.length < 3 ? Promise.reject(new Error('x')) : 'ok';
        },
        { signal: controller.signal },
      ),
    );
    expect(value).toBe('ok');
    expect(seen).toEqual([controller.signal, controller.signal, controller.signal]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: Retry-After', () => {
  const limited = (retryAfterMs: number) => Object.assign(new Error('429'), { retryAfterMs });

  it('waits at least the retryAfterMs an error carries', async () => {
    const { clock, policy, delays } = setup({ random: () => 0 });
    const fn = vi.fn().mockRejectedValueOnce(limited(2_000)).mockResolvedValueOnce('ok');
    const call = policy.execute(fn);
    await settle();
    clock.advance(1_999);
    await settle();
    expect(fn).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await expect(call).resolves.toBe('ok');
    expect(delays).toEqual([2_000]);
  });

  it('keeps the longer backoff when Retry-After is shorter', async () => {
    const { clock, policy, delays } = setup({ random: () => 0.5, baseDelay: 1_000 });
    const fn = vi.fn().mockRejectedValueOnce(limited(10)).mockResolvedValueOnce('ok');
    await run(clock, policy.execute(fn));
    expect(delays).toEqual([500]);
  });

  it('gives up when Retry-After is longer than maxDelay', async () => {
    const { policy } = setup({ maxDelay: 5_000 });
    const gaveUp = vi.fn();
    policy.on('give-up', gaveUp);
    const fn = vi.fn(() => Promise.reject(limited(30_000)));
    await expect(policy.execute(fn)).rejects.toThrow('429');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(gaveUp).toHaveBeenCalledWith(expect.objectContaining({ attempts: 1, reason: 'retry-after' }));
    expect(policy.stats().giveUps).toEqual({ attempts: 0, budget: 0, 'retry-after': 1 });
  });

  it('waits a Retry-After of exactly maxDelay rather than giving up', async () => {
    const { clock, policy, delays } = setup({ maxDelay: 5_000, random: () => 0 });
    const fn = vi.fn().mockRejectedValueOnce(limited(5_000)).mockResolvedValueOnce('ok');
    await expect(run(clock, policy.execute(fn))).resolves.toBe('ok');
    expect(delays).toEqual([5_000]);
    expect(policy.stats().giveUps['retry-after']).toBe(0);
  });

  it.each([
    ['zero', 0],
    ['negative', -1_000],
    ['infinite', Number.POSITIVE_INFINITY],
    ['not a number', Number.NaN],
  ])('ignores a %s retryAfterMs and backs off as usual', async (_what, retryAfterMs) => {
    const { clock, policy, delays } = setup({ maxDelay: 5_000, baseDelay: 100, random: () => 0.5 });
    const fn = vi.fn().mockRejectedValueOnce(limited(retryAfterMs)).mockResolvedValueOnce('ok');
    await expect(run(clock, policy.execute(fn))).resolves.toBe('ok');
    expect(delays).toEqual([50]);
  });
});
