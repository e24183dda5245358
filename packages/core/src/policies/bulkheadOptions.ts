import { z } from 'zod';
import { systemClock, type Clock } from '../clock.js';
import { clock, millis, parseOptions, whole } from '../validation.js';

export const DEFAULT_BULKHEAD_NAME = 'bulkhead';
export const DEFAULT_BULKHEAD_MAX_QUEUE = 0;

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /** Name used in errors (default `"bulkhead"`). */
  name?: string;
  /** Calls allowed to run at once; required. */
  maxConcurrent: number;
  /** Calls allowed to wait for a slot; beyond it a call is turned away at once (default 0). */
  maxQueue?: number;
  /** Milliseconds a queued call waits for a slot before it is turned away; off by default. */
  queueTimeout?: number;
  /** Source of time and timers (default the system clock). */
  clock?: Clock;
}

const schema = z.strictObject({
  // Stryker disable next-line ObjectLiteral: the string schema's own error already words a failed min(1)
  name: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }).optional(),
  maxConcurrent: whole(1),
  maxQueue: whole(0).optional(),
  queueTimeout: millis(1).optional(),
  clock: clock.optional(),
});

const HINTS: Record<string, string> = {
  limit: '`maxConcurrent` (cockatiel calls it limit)',
  capacity: '`maxConcurrent`',
  maxConcurrentCalls: '`maxConcurrent`',
  queue: '`maxQueue`',
  maxQueueSize: '`maxQueue`',
  maxWaitDuration: '`queueTimeout`',
};

/** Bulkhead options after defaults. */
export interface ResolvedBulkheadOptions {
  readonly name: string;
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly queueTimeout: number | undefined;
  readonly clock: Clock;
}

/** Checks bulkhead options once and fills in defaults; throws `InvalidOptionError` naming the option. */
export function resolveBulkheadOptions(options: BulkheadOptions | undefined): ResolvedBulkheadOptions {
  const o = parseOptions(schema, options, 'bulkhead()', HINTS);
  return {
    name: o.name ?? DEFAULT_BULKHEAD_NAME,
    maxConcurrent: o.maxConcurrent,
    maxQueue: o.maxQueue ?? DEFAULT_BULKHEAD_MAX_QUEUE,
    queueTimeout: o.queueTimeout,
    clock: o.clock ?? systemClock,
  };
}
