import { trace, type Attributes } from '@opentelemetry/api';
import type { BulkheadRejectedError, CircuitBreaker } from '@breaker/core';
import { BreakerOpenError } from '@breaker/core';
import { rejectionReason } from '@breaker/core/http';
import { ATTR, SPAN_EVENT } from './attributes.js';

/**
 * Adds an event to the span active where the breaker decided, if there is one and it records. With no
 * tracer provider registered no span is ever active, and this is one context lookup.
 */
function addEvent(name: string, attributes: () => Attributes): void {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  span.addEvent(name, attributes());
}

/** Span events of one breaker: its rejections and its timeouts. Returns what removes them. */
export function watchBreaker(breaker: CircuitBreaker): (() => void)[] {
  const name = breaker.name;
  return [
    breaker.on('reject', ({ error }) =>
      addEvent(SPAN_EVENT.rejected, () => ({
        [ATTR.name]: name,
        [ATTR.state]: breaker.state,
        [ATTR.reason]: reasonOf(error),
        [ATTR.retryAfter]: error.retryAfterMs / 1_000,
      })),
    ),
    breaker.on('timeout', ({ error }) =>
      addEvent(SPAN_EVENT.timeout, () => ({
        [ATTR.name]: name,
        [ATTR.state]: breaker.state,
        [ATTR.reason]: 'timeout',
        'breaker.call_timeout': error.timeoutMs / 1_000,
      })),
    ),
  ];
}

/**
 * Why a breaker turned a call away: `open`, `half-open-busy` (its trial calls, or the share a recovery
 * ramp admits, were taken) or `forced-open`.
 */
function reasonOf(error: BreakerOpenError): string {
  return error.state === 'forced-open' ? 'forced-open' : rejectionReason(error);
}

/** A bulkhead turned a call of breaker `name` (or of no breaker) away. */
export function bulkheadRejected(
  error: BulkheadRejectedError,
  breaker: CircuitBreaker | undefined,
  name?: string,
): void {
  addEvent(SPAN_EVENT.bulkheadRejected, () => ({
    [ATTR.name]: name ?? breaker?.name ?? error.bulkhead,
    [ATTR.bulkhead]: error.bulkhead,
    ...(breaker === undefined ? {} : { [ATTR.state]: breaker.state }),
    [ATTR.reason]: error.reason,
  }));
}

/** A fallback answered in place of a call of breaker `name`, for `reason`. */
export function fellBack(
  reason: string,
  breaker: CircuitBreaker | undefined,
  name: string | undefined,
): void {
  addEvent(SPAN_EVENT.fallback, () => ({
    ...(name === undefined ? {} : { [ATTR.name]: name }),
    ...(breaker === undefined ? {} : { [ATTR.state]: breaker.state }),
    [ATTR.reason]: reason,
  }));
}

/** The breaker named by a fallback's error, when a breaker's rejection caused it. */
export function breakerOf(error: unknown): string | undefined {
  return error instanceof BreakerOpenError ? error.breaker : undefined;
}
