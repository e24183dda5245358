import { describe, expect, it } from 'vitest';
import { bulkhead } from '../policies/BulkheadPolicy.js';
import { BulkheadRejectedError } from '../policies/BulkheadRejectedError.js';
import { ManualClock } from '../testing.js';
import { KeyedCache, isBusy, takeSlot } from './bulkhead.js';
import { resolveHttpPolicies } from './options.js';

const context = 'circuitBreaker() from @breaker/express';
const limitOf = (value: unknown) => resolveHttpPolicies({ bulkhead: value }, context).bulkhead;
/** The message a bad `bulkhead` option is turned down with, or "accepted". */
function messageOf(value: unknown): string {
  let message = 'accepted';
  try {
    limitOf(value);
  } catch (error) {
    message = (error as Error).message;
  }
  return message;
}

describe('the bulkhead option', () => {
  it('keeps only the fields given', () => {
    expect(limitOf({ maxConcurrent: 4 })).toEqual({ maxConcurrent: 4 });
    expect(Object.keys(limitOf({ maxConcurrent: 4 })!)).toEqual(['maxConcurrent']);
    expect(limitOf({ maxConcurrent: 4, maxQueue: 0 })).toEqual({ maxConcurrent: 4, maxQueue: 0 });
    expect(limitOf({ maxConcurrent: 1, queueTimeout: 1 })).toEqual({ maxConcurrent: 1, queueTimeout: 1 });
    expect(limitOf({ maxConcurrent: 2, maxQueue: 8, queueTimeout: 250 })).toEqual({
      maxConcurrent: 2,
      maxQueue: 8,
      queueTimeout: 250,
    });
    expect(limitOf(undefined)).toBeUndefined();
  });

  it('names what is wrong with each field', () => {
    expect({
      'not an object': messageOf(4),
      maxConcurrent: messageOf({ maxConcurrent: 0 }),
      'no maxConcurrent': messageOf({ maxQueue: 1 }),
      maxQueue: messageOf({ maxConcurrent: 1, maxQueue: -1 }),
      queueTimeout: messageOf({ maxConcurrent: 1, queueTimeout: 0 }),
    }).toMatchInlineSnapshot(`
      {
        "maxConcurrent": "Invalid circuitBreaker() from @breaker/express option "bulkhead.maxConcurrent": expected a whole number of at least 1; received 0.",
        "maxQueue": "Invalid circuitBreaker() from @breaker/express option "bulkhead.maxQueue": expected a whole number of at least 0; received -1.",
        "no maxConcurrent": "Invalid circuitBreaker() from @breaker/express option "bulkhead.maxConcurrent": expected a whole number of at least 1; received undefined.",
        "not an object": "Invalid circuitBreaker() from @breaker/express option "bulkhead": expected an object { maxConcurrent, maxQueue, queueTimeout }; received 4.",
        "queueTimeout": "Invalid circuitBreaker() from @breaker/express option "bulkhead.queueTimeout": expected a finite number of milliseconds of at least 1; received 0.",
      }
    `);
  });

  it("points other libraries' field names to its own", () => {
    const hints = {
      limit: '`bulkhead.maxConcurrent`',
      capacity: '`bulkhead.maxConcurrent`',
      maxConcurrentCalls: '`bulkhead.maxConcurrent`',
      queue: '`bulkhead.maxQueue`',
      maxQueueSize: '`bulkhead.maxQueue`',
      maxWaitDuration: '`bulkhead.queueTimeout`',
    };
    for (const [field, hint] of Object.entries(hints)) {
      expect(messageOf({ maxConcurrent: 1, [field]: 1 }), field).toContain(`Did you mean ${hint}?`);
    }
  });
});

describe('a bulkhead slot', () => {
  it('is handed to the next waiter, in order, as each holder frees it', async () => {
    const limit = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const order: string[] = [];
    const first = takeSlot(limit) as () => void;
    const second = (takeSlot(limit) as Promise<() => void>).then(
      (release) => (order.push('second'), release),
    );
    const third = (takeSlot(limit) as Promise<() => void>).then((release) => (order.push('third'), release));
    first();
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    await Promise.resolve();
    await Promise.resolve();
    expect(isBusy(limit)).toBe(false);
  });

  it('rejects a waiter with the bulkhead error once its queue time is up', async () => {
    const clock = new ManualClock();
    const limit = bulkhead({ name: 'reports', maxConcurrent: 1, maxQueue: 1, queueTimeout: 200, clock });
    takeSlot(limit);
    const waiting = takeSlot(limit) as Promise<unknown>;
    expect(isBusy(limit)).toBe(true);
    clock.advance(200);
    await expect(waiting).rejects.toBeInstanceOf(BulkheadRejectedError);
    await expect(waiting).rejects.toMatchObject({ bulkhead: 'reports', reason: 'queue-timeout' });
  });

  it('counts a bulkhead with only a waiter as busy', () => {
    const limit = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    expect(isBusy(limit)).toBe(false);
    takeSlot(limit);
    void takeSlot(limit);
    expect(limit.stats()).toMatchObject({ active: 1, queued: 1 });
    expect(isBusy(limit)).toBe(true);
  });
});

describe('one value per key', () => {
  it('makes a value once per key, with its key', () => {
    const made: string[] = [];
    const cache = new KeyedCache(10, (key) => (made.push(key), { key }));
    expect(cache.get('a')).toEqual({ key: 'a' });
    expect(cache.get('a')).toBe(cache.get('a'));
    expect(made).toEqual(['a']);
    expect(cache.peek('b')).toBeUndefined();
    expect(made).toEqual(['a']);
    expect(cache.maxSize).toBe(10);
  });

  it('drops the least recently used key beyond maxSize, a peek not counting as a use', () => {
    const cache = new KeyedCache(2, (key) => ({ key }));
    cache.get('a');
    cache.get('b');
    cache.peek('a');
    cache.get('c');
    expect([cache.peek('a'), cache.peek('b'), cache.peek('c')].map(Boolean)).toEqual([false, true, true]);
    cache.get('b');
    cache.get('d');
    expect([cache.peek('b'), cache.peek('c'), cache.peek('d')].map(Boolean)).toEqual([true, false, true]);
  });

  it('keeps exactly maxSize keys, counting every value idle by default', () => {
    const cache = new KeyedCache(3, (key) => key);
    for (const key of ['a', 'b', 'c', 'd', 'e']) cache.get(key);
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((key) => cache.peek(key) !== undefined)).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it('keeps the key just made even when every other key is busy', () => {
    const cache = new KeyedCache(
      1,
      (key) => key,
      (key) => key === 'busy',
    );
    cache.get('busy');
    expect(cache.get('new')).toBe('new');
    expect(cache.size).toBe(2);
    expect(cache.peek('new')).toBe('new');
    cache.get('other');
    expect(cache.peek('new')).toBeUndefined();
    expect(cache.size).toBe(2);
  });
});
