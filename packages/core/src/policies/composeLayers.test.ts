import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../CircuitBreaker.js';
import { ManualClock } from '../testing.js';
import { bulkhead } from './BulkheadPolicy.js';
import { compose } from './compose.js';
import { fallback } from './FallbackPolicy.js';
import type { Policy } from './Policy.js';
import { retry } from './RetryPolicy.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
/** A call that only ends when its signal aborts. */
const hang = ({ signal }: { signal: AbortSignal }) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

/** A policy of the application's own: it gives each call `ms` and then aborts it. */
function deadline(clock: ManualClock, ms: number): Policy {
  return {
    execute(fn) {
      const controller = new AbortController();
      const timer = clock.setTimeout(() => controller.abort(new Error(`over ${ms} ms`)), ms);
      return Promise.resolve(fn({ signal: controller.signal })).finally(() => clock.clearTimeout(timer));
    },
  } as Policy;
}

describe('compose: a policy of the application`s own', () => {
  it('aborts the function through the layers inside it, though the caller passes no signal; inner fallbacks take it for the caller`s abort', async () => {
    const clock = new ManualClock();
    const stack = compose(
      deadline(clock, 500),
      fallback('cached'),
      bulkhead({ clock, maxConcurrent: 1 }),
      retry({ clock, attempts: 1, budget: false }),
      new CircuitBreaker({ clock }),
    );
    const signals: AbortSignal[] = [];
    const call = stack.execute((context) => {
      signals.push(context.signal);
      return hang(context);
    });
    const outcome = expect(call).rejects.toThrow('over 500 ms');
    await settle();
    clock.advance(499);
    await settle();
    expect(signals[0]!.aborted).toBe(false);
    clock.advance(1);
    await settle();
    expect(signals).toHaveLength(1);
    expect(signals[0]!.reason).toEqual(new Error('over 500 ms'));
    await outcome;
    expect(clock.pendingTimers).toBe(0);
  });

  it('has its abort reach the function when it sits inside other layers', async () => {
    const clock = new ManualClock();
    const stack = compose(
      retry({ clock, attempts: 1, budget: false }),
      deadline(clock, 200),
      bulkhead({ clock, maxConcurrent: 1 }),
    );
    let signal: AbortSignal | undefined;
    const call = stack.execute((context) => {
      signal = context.signal;
      return hang(context);
    });
    const outcome = expect(call).rejects.toThrow('over 200 ms');
    await settle();
    clock.advance(200);
    expect(signal?.aborted).toBe(true);
    await outcome;
  });
});
