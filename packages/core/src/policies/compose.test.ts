import { getEventListeners } from 'node:events';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { CircuitBreaker } from '../CircuitBreaker.js';
import { CallTimeoutError, InvalidOptionError } from '../errors.js';
import { ManualClock } from '../testing.js';
import { bulkhead } from './BulkheadPolicy.js';
import { BulkheadRejectedError } from './BulkheadRejectedError.js';
import { compose } from './compose.js';
import { fallback } from './FallbackPolicy.js';
import type { Fireable } from './Policy.js';
import { retry, type RetryPolicy } from './RetryPolicy.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const down = () => Promise.reject(new Error('down'));
/** A call that only ends when its signal aborts. */
const hang = ({ signal }: { signal: AbortSignal }) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

function parts() {
  const clock = new ManualClock();
  return {
    clock,
    breaker: (options = {}) =>
      new CircuitBreaker({ clock, failureThreshold: 3, timeout: 30_000, ...options }),
    retry: (options = {}) => retry({ clock, random: () => 0.5, budget: false, ...options }),
    bulkhead: (options = {}) => bulkhead({ clock, maxConcurrent: 1, ...options }),
  };
}

describe('compose: the recommended stack', () => {
  it('retries into the breaker until it opens, then falls back at once', async () => {
    const { clock, ...make } = parts();
    const breaker = make.breaker();
    const stack = compose(
      fallback((reason) => `cached (${reason})`),
      make.bulkhead(),
      make.retry(),
      breaker,
    );
    const upstream = vi.fn(down);
    const first = stack.execute(upstream);
    for (let i = 0; i < 3; i++) {
      await settle();
      clock.advance(1_000);
    }
    await expect(first).resolves.toBe('cached (error)');
    expect(upstream).toHaveBeenCalledTimes(3);
    expect(breaker.state).toBe('open');
    await expect(stack.execute(upstream)).resolves.toBe('cached (open)');
    expect(upstream).toHaveBeenCalledTimes(3);
    expect(clock.pendingTimers).toBe(1); // the open breaker's own timer
  });

  it('passes the caller`s signal through every layer to the function, and leaves nothing behind', async () => {
    const { clock, ...make } = parts();
    const slots = make.bulkhead();
    const stack = compose(fallback('cached'), slots, make.retry(), make.breaker());
    const controller = new AbortController();
    let inner: AbortSignal | undefined;
    const call = stack.execute(
      (context) => {
        inner = context.signal;
        return hang(context);
      },
      { signal: controller.signal },
    );
    await settle();
    const reason = new Error('client gone');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(inner?.aborted).toBe(true);
    expect(inner?.reason).toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(clock.pendingTimers).toBe(0);
    expect(slots.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it('aborts the function at the breaker`s callTimeout, and the retry tries again', async () => {
    const { clock, ...make } = parts();
    const stack = compose(make.retry({ attempts: 2 }), make.breaker({ callTimeout: 1_000 }));
    const signals: AbortSignal[] = [];
    const call = stack.execute((context) => {
      signals.push(context.signal);
      return signals.length === 1 ? hang(context) : 'second try';
    });
    await settle();
    clock.advance(1_000);
    await settle();
    clock.advance(50);
    await expect(call).resolves.toBe('second try');
    expect(signals[0]!.reason).toBeInstanceOf(CallTimeoutError);
    expect(signals[1]!.aborted).toBe(false);
  });

  it('passes an outer breaker`s deadline down: the function inside the other layers is aborted at its callTimeout', async () => {
    const { clock, ...make } = parts();
    const stack = compose(make.breaker({ callTimeout: 1_000 }), make.bulkhead(), make.retry({ attempts: 1 }));
    const signals: AbortSignal[] = [];
    const call = stack.execute((context) => {
      signals.push(context.signal);
      return hang(context);
    });
    const outcome = expect(call).rejects.toBeInstanceOf(CallTimeoutError);
    await settle();
    expect(signals[0]!.aborted).toBe(false);
    clock.advance(1_000);
    await outcome;
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(CallTimeoutError);
  });

  it('is typed: a fallback adds its value to the result, other layers add nothing', async () => {
    const { breaker, retry } = parts();
    const plain = compose(retry(), breaker());
    expectTypeOf(plain.execute(() => 1)).resolves.toEqualTypeOf<number>();
    const withFallback = compose(fallback(null), retry({ attempts: 1 }), breaker());
    expectTypeOf(withFallback.execute(async () => 'x')).resolves.toEqualTypeOf<string | null>();
    await expect(withFallback.execute(down)).resolves.toBeNull();
  });
});

describe('compose: order matters', () => {
  it('bulkhead outside retry: a call holds one slot through its backoff, and a newcomer is turned away once', async () => {
    const { clock, ...make } = parts();
    const slots = make.bulkhead();
    const stack = compose(slots, make.retry());
    const first = stack.execute(down).catch((e: unknown) => e);
    await settle();
    expect(slots.stats().active).toBe(1);
    const upstream = vi.fn(() => 'ok');
    await expect(stack.execute(upstream)).rejects.toBeInstanceOf(BulkheadRejectedError);
    expect(upstream).not.toHaveBeenCalled();
    expect(slots.stats().rejected).toBe(1);
    clock.advance(50);
    await settle();
    clock.advance(100);
    await first;
    expect(slots.stats().active).toBe(0);
  });

  it('retry outside bulkhead: a full bulkhead is retried, and each retry is turned away again', async () => {
    const { clock, ...make } = parts();
    const slots = make.bulkhead();
    const stack = compose(make.retry(), slots);
    void slots.execute(() => new Promise(() => {}));
    const call = stack.execute(() => 'ok').catch((e: unknown) => e);
    await settle();
    clock.advance(50);
    await settle();
    clock.advance(100);
    expect(await call).toBeInstanceOf(BulkheadRejectedError);
    expect(slots.stats().rejected).toBe(3);
  });

  it('breaker inside retry counts every attempt; outside, one outcome per call', async () => {
    const inside = parts();
    const innerBreaker = inside.breaker();
    const call = compose(inside.retry(), innerBreaker).execute(down);
    await settle();
    inside.clock.advance(50);
    await settle();
    inside.clock.advance(100);
    await expect(call).rejects.toThrow('down');
    expect(innerBreaker.state).toBe('open');

    const outside = parts();
    const outerBreaker = outside.breaker();
    const call2 = compose(outerBreaker, outside.retry()).execute(down);
    await settle();
    outside.clock.advance(50);
    await settle();
    outside.clock.advance(100);
    await expect(call2).rejects.toThrow('down');
    expect(outerBreaker.stats()).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
  });

  it('fallback inside retry answers before any retry; outside, only after the retries', async () => {
    const { clock, ...make } = parts();
    const flaky = () => {
      let calls = 0;
      return vi.fn(() => (++calls === 1 ? Promise.reject(new Error('blip')) : 'fresh'));
    };
    const early = flaky();
    await expect(compose(make.retry(), fallback('stale')).execute(early)).resolves.toBe('stale');
    expect(early).toHaveBeenCalledTimes(1);

    const late = flaky();
    const call = compose(fallback('stale'), make.retry()).execute(late);
    await settle();
    clock.advance(50);
    await expect(call).resolves.toBe('fresh');
  });
});

describe('compose: what it accepts', () => {
  it('takes anything with fire, such as a breaker from another copy of the package', async () => {
    const fire = vi.fn((fn: (context: { signal: AbortSignal }) => unknown) =>
      Promise.resolve(fn({ signal: new AbortController().signal })),
    );
    await expect(compose(retry(), { fire } as Fireable).execute(() => 'ok')).resolves.toBe('ok');
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it('nests', async () => {
    const inner = compose(retry({ budget: false }), fallback('inner'));
    await expect(compose(fallback('outer'), inner).execute(down)).resolves.toBe('inner');
  });

  it('keeps its layers, outermost first, in a list of its own', () => {
    const { breaker, retry } = parts();
    const layers: [Fireable, RetryPolicy] = [breaker(), retry()];
    const stack = compose(...layers);
    expect(stack.policies).toEqual(layers);
    expect(stack.policies[0]).toBe(layers[0]);
    layers.pop();
    expect(stack.policies).toHaveLength(2);
  });

  it('refuses no policy, or something that is not one', () => {
    let empty: unknown;
    try {
      compose(...([] as unknown as [Fireable]));
    } catch (e) {
      empty = e;
    }
    expect(empty).toBeInstanceOf(InvalidOptionError);
    expect(empty).toMatchObject({
      option: 'policies',
      message: 'compose() expects at least one policy or circuit breaker.',
    });
    let error: InvalidOptionError | undefined;
    try {
      compose(retry(), {} as Fireable);
    } catch (e) {
      error = e as InvalidOptionError;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error?.option).toBe('policies[1]');
    expect(error?.message).toBe(
      'compose() argument 2 must be a policy (an object with execute()) or a circuit breaker ' +
        '(an object with fire()); received an object.',
    );
  });
});
