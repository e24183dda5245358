import type { BreakerState } from './state.js';

/** A plain, JSON-serialisable snapshot returned by `breaker.stats()`. */
export interface BreakerStats {
  name: string;
  state: BreakerState;
  /** Counts state changes since the breaker was made. */
  round: number;
  /** Clock time the breaker last opened, or `null`. */
  openedAt: number | null;
  /** Milliseconds until a call may be admitted (0 when calls are admitted now). */
  retryAfterMs: number;
  /** Trips since the last close. */
  trips: number;
  consecutiveFailures: number;
  /** Trial calls while half-open: consecutive successes so far and calls in flight. */
  halfOpen: { successes: number; inFlight: number };
  /** While closed on a recovery ramp: when it ends, and the percentage of calls admitted now. */
  recovery: { until: number; admittedRate: number } | null;
  /** Failure percentage over the window, or over all counted calls when there is no window. */
  failureRate: number;
  /** The rate window's contents, or `null` when no rate rule is set. */
  window: { calls: number; failures: number; slow: number; failureRate: number; slowCallRate: number } | null;
  /** Totals since the breaker was made or last reset. */
  counts: {
    successes: number;
    failures: number;
    timeouts: number;
    /** Calls turned away while open or half-open; never part of any rate. */
    rejections: number;
    /** Errors `isFailure` turned down, caller aborts, and permits given back. */
    ignored: number;
    /** Outcomes of calls that started before the last state change. */
    stale: number;
  };
}
