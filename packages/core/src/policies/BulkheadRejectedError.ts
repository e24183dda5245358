import { BreakerError } from '../errors.js';

// A constant of the module, so that the class does not name itself in its body (the bundler would rename it).
const FULL = 'BREAKER_BULKHEAD_FULL';

/** Why a bulkhead turned a call away. */
export type BulkheadRejection = 'full' | 'queue-timeout';

/**
 * Thrown, without calling the guarded function, when a bulkhead has no free slot and no room in its
 * queue (`reason: 'full'`), or when a queued call waited `queueTimeout` without getting a slot
 * (`reason: 'queue-timeout'`). Like every Breaker error, `instanceof` holds across two copies of the package.
 */
export class BulkheadRejectedError extends BreakerError {
  static override readonly code = FULL;
  override readonly name = 'BulkheadRejectedError';
  /** Name of the bulkhead that turned the call away. */
  readonly bulkhead: string;
  /** `full`: turned away on arrival; `queue-timeout`: waited in the queue for `queueTimeout`. */
  readonly reason: BulkheadRejection;
  /** An estimate of when a slot frees, from the duration of recent calls; 0 before any call has finished. */
  readonly retryAfterMs: number;

  /** `queueTimeoutMs`: how long a call waited in the queue, for a `queue-timeout`. */
  constructor(bulkhead: string, reason: BulkheadRejection, retryAfterMs: number, queueTimeoutMs = 0) {
    super(FULL, describeRejection(bulkhead, reason, queueTimeoutMs));
    this.bulkhead = bulkhead;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A rejection without a stack: it would only show the bulkhead's own frames, and costs more than the rest. */
export function bulkheadRejection(
  bulkhead: string,
  reason: BulkheadRejection,
  retryAfterMs: number,
  queueTimeoutMs?: number,
): BulkheadRejectedError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new BulkheadRejectedError(bulkhead, reason, retryAfterMs, queueTimeoutMs);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function describeRejection(bulkhead: string, reason: BulkheadRejection, queueTimeoutMs: number): string {
  return reason === 'full'
    ? `Bulkhead "${bulkhead}" is full: every slot is busy and its queue has no room`
    : `Call waited ${queueTimeoutMs} ms in the queue of bulkhead "${bulkhead}" without getting a slot`;
}
