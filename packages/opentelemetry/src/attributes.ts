import type { BreakerState, TransitionReason } from '@breaker/core';

/**
 * Attribute names, lowercase and dot-separated under the `breaker.` namespace, as OpenTelemetry's
 * naming rules ask.
 */
export const ATTR = {
  name: 'breaker.name',
  state: 'breaker.state',
  outcome: 'breaker.outcome',
  reason: 'breaker.reason',
  from: 'breaker.transition.from',
  to: 'breaker.transition.to',
  transitionReason: 'breaker.transition.reason',
  retryAfter: 'breaker.retry_after',
  bulkhead: 'breaker.bulkhead.name',
} as const;

/** Metric names, under the `breaker.` namespace. */
export const METRIC = {
  status: 'breaker.status',
  calls: 'breaker.calls',
  duration: 'breaker.call.duration',
  transitions: 'breaker.transitions',
  openRemaining: 'breaker.open.remaining',
  overflow: 'breaker.overflow',
} as const;

/** Span event names. */
export const SPAN_EVENT = {
  rejected: 'breaker.rejected',
  timeout: 'breaker.timeout',
  bulkheadRejected: 'breaker.bulkhead.rejected',
  fallback: 'breaker.fallback',
} as const;

/** The `breaker.outcome` of a call. */
export type CallOutcome = 'success' | 'failure' | 'timeout' | 'rejected' | 'ignored';
export const OUTCOMES: readonly CallOutcome[] = ['success', 'failure', 'timeout', 'rejected', 'ignored'];
export const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'forced-open', 'disabled'];

/** A state change, as {@link InstrumentOptions.onStateChange} hears it: ready for a log record. */
export interface StateChangeRecord {
  /** The breaker's name (its own, even past `maxBreakers`). */
  name: string;
  from: BreakerState;
  to: BreakerState;
  reason: TransitionReason;
  /** Clock time of the change, in ms. */
  at: number;
  /**
   * The same, as OpenTelemetry attributes: `breaker.name`, `breaker.transition.from`, `.to` and `.reason`, all
   * strings, so they fit a span's attributes and a log record's alike.
   */
  attributes: Record<(typeof ATTR)['name' | 'from' | 'to' | 'transitionReason'], string>;
}
