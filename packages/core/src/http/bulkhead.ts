import { z } from 'zod';
import { BulkheadPolicy } from '../policies/BulkheadPolicy.js';
import { millis, whole } from '../validation.js';

/** The `bulkhead` option of the HTTP adapters: a limit on concurrent requests per breaker. */
export interface HttpBulkheadOptions {
  /** Requests allowed through at once. A whole number of at least 1. */
  maxConcurrent: number;
  /** Requests allowed to wait for a slot (default 0: beyond `maxConcurrent`, turned away at once). */
  maxQueue?: number;
  /** Milliseconds a queued request waits for a slot before it is turned away (default: no limit). */
  queueTimeout?: number;
}

/** The `bulkhead` option's schema, for the adapters' own option checks. */
export const httpBulkheadSchema = z.strictObject(
  {
    maxConcurrent: whole(1),
    maxQueue: whole(0).optional(),
    queueTimeout: millis(1).optional(),
  },
  { error: 'an object { maxConcurrent, maxQueue, queueTimeout }' },
);

/** Other libraries' names for the `bulkhead` option's fields. */
export const HTTP_BULKHEAD_HINTS: Readonly<Record<string, string>> = {
  'bulkhead.limit': '`bulkhead.maxConcurrent`',
  'bulkhead.capacity': '`bulkhead.maxConcurrent`',
  'bulkhead.maxConcurrentCalls': '`bulkhead.maxConcurrent`',
  'bulkhead.queue': '`bulkhead.maxQueue`',
  'bulkhead.maxQueueSize': '`bulkhead.maxQueue`',
  'bulkhead.maxWaitDuration': '`bulkhead.queueTimeout`',
};

/** The `bulkhead` option after checks, with only the fields given. */
export function bulkheadLimit(
  parsed: z.infer<typeof httpBulkheadSchema> | undefined,
): Readonly<HttpBulkheadOptions> | undefined {
  if (parsed === undefined) return undefined;
  const limit: HttpBulkheadOptions = { maxConcurrent: parsed.maxConcurrent };
  if (parsed.maxQueue !== undefined) limit.maxQueue = parsed.maxQueue;
  if (parsed.queueTimeout !== undefined) limit.queueTimeout = parsed.queueTimeout;
  return limit;
}

/** Frees a bulkhead slot; calls after the first do nothing. */
export type ReleaseSlot = () => void;

/**
 * Takes a slot in `bulkhead` and holds it until the returned function is called. Returns that function
 * at once when a slot is free; otherwise a promise of it, settled once the call leaves the queue. The
 * promise rejects with the bulkhead's `BulkheadRejectedError` (full, or out of time in the queue), or
 * with the signal's reason when it aborts while waiting (the call then leaves the queue at once).
 */
export function takeSlot(bulkhead: BulkheadPolicy, signal?: AbortSignal): ReleaseSlot | Promise<ReleaseSlot> {
  let release!: ReleaseSlot;
  const held = new Promise<void>((resolve) => (release = () => resolve()));
  let granted = false;
  let onGrant: (() => void) | undefined;
  // The bulkhead counts the slot as busy until `held` settles; a free slot runs this synchronously.
  const running = bulkhead.execute(
    () => {
      granted = true;
      onGrant?.();
      return held;
    },
    { signal },
  );
  if (granted) return release;
  return new Promise<ReleaseSlot>((resolve, reject) => {
    onGrant = () => resolve(release);
    running.catch(reject);
  });
}

/** Whether a bulkhead has a call running or waiting. */
export function isBusy(bulkhead: BulkheadPolicy): boolean {
  const { active, queued } = bulkhead.stats();
  // Stryker disable next-line ConditionalExpression: a bulkhead holds waiters only while every slot is taken
  return active > 0 || queued > 0;
}

/**
 * Values made on first use of a key, such as one bulkhead per breaker. Beyond `maxSize` keys the least
 * recently used are dropped, except those `busy` says are in use (they are dropped once idle and old).
 */
export class KeyedCache<V> {
  readonly maxSize: number;
  readonly #make: (key: string) => V;
  readonly #busy: (value: V) => boolean;
  readonly #values = new Map<string, V>();

  // Stryker disable next-line ArrowFunction: undefined and false both read as idle
  constructor(maxSize: number, make: (key: string) => V, busy: (value: V) => boolean = () => false) {
    this.maxSize = maxSize;
    this.#make = make;
    this.#busy = busy;
  }

  /** The value for `key`, made now if there is none. */
  get(key: string): V {
    const values = this.#values;
    let value = values.get(key);
    if (value !== undefined) {
      // Moving the key to the end keeps the map in order of use.
      values.delete(key);
      values.set(key, value);
      return value;
    }
    value = this.#make(key);
    values.set(key, value);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: evicting within maxSize drops nothing
    if (values.size > this.maxSize) this.#evict(key);
    return value;
  }

  /** The value for `key`, if there is one, without making it or marking it used. */
  peek(key: string): V | undefined {
    return this.#values.get(key);
  }

  /** Keys held. */
  get size(): number {
    return this.#values.size;
  }

  /** Drops idle keys, oldest first, down to `maxSize`; never `keep`, which the caller is about to use. */
  #evict(keep: string): void {
    for (const [key, value] of this.#values) {
      if (this.#values.size <= this.maxSize) return;
      if (key !== keep && !this.#busy(value)) this.#values.delete(key);
    }
  }
}
