import type { OutcomeBatch, ResolvedOptions } from '@breaker/core';

/** The wait before counts go to Redis while a fleet rule could be near its threshold. */
export const FAST_FLUSH_MS = 250;
/** The longest wait, while every rule is far from its threshold. */
const SLOW_FLUSH_MAX_MS = 15_000;
/** Counts due this soon after a flush goes out with it, so one round carries many breakers. */
const COALESCE_MS = 50;
export const DEFAULT_WINDOW = 60_000;

/** The span of the shared window: the breaker's time window, or {@link DEFAULT_WINDOW}. */
export function windowSpan(options: ResolvedOptions): number {
  return options.window?.type === 'time' ? options.window.duration : DEFAULT_WINDOW;
}

/** Counts gathered in this process for one breaker name, and the fleet's totals the last report returned. */
export interface ReportState {
  pending: OutcomeBatch | undefined;
  /** When the pending counts are due in Redis. */
  dueAt: number;
  fleet: OutcomeBatch | undefined;
}

/** Whether a breaker has a rule that reads the fleet's shared window: a failure or slow-call rate. */
export function readsFleetWindow(options: ResolvedOptions): boolean {
  return options.failureRateThreshold !== undefined || options.slowCallRateThreshold !== undefined;
}

/**
 * How long counts may wait before they go to Redis: {@link FAST_FLUSH_MS} until a report has returned the
 * fleet's totals (for a new breaker, and after every state change, which empties the shared window), when
 * the failures or slow calls they hold bring a rate rule within half of its threshold, or when a quorum
 * needs to know who saw failures; otherwise a quarter of the window (250 ms to 15 s), as successes and
 * failures well under the threshold cannot make a rule fire. The batch is judged with the fleet's totals
 * that the last report returned, and on its own when it holds two failures or more (a single failure
 * among a few calls says little about a rate).
 */
export function flushDelay(
  options: ResolvedOptions,
  pending: OutcomeBatch,
  fleet: OutcomeBatch | undefined,
  quorum: number,
): number {
  if (quorum > 1 && pending.failures > 0) return FAST_FLUSH_MS;
  // Until a report has returned the fleet's totals (a new breaker, or a state change that emptied the
  // shared window), nothing says how far the threshold is, and other replicas' successes must not lag
  // behind one replica's failures in an empty window.
  if (fleet === undefined) return FAST_FLUSH_MS;
  const near = (bad: number, fleetBad: number, threshold: number | undefined): boolean => {
    if (threshold === undefined || bad === 0) return false;
    const half = threshold / 2;
    if (bad >= 2 && bad * 100 >= half * pending.calls) return true;
    return (fleetBad + bad) * 100 >= half * (fleet.calls + pending.calls);
  };
  if (
    near(pending.failures, fleet?.failures ?? 0, options.failureRateThreshold) ||
    near(pending.slow, fleet?.slow ?? 0, options.slowCallRateThreshold)
  ) {
    return FAST_FLUSH_MS;
  }
  return Math.min(SLOW_FLUSH_MAX_MS, Math.max(FAST_FLUSH_MS, windowSpan(options) / 4));
}

/**
 * Holds each breaker's counts until they are due and sends every due breaker in one round, on one
 * timer for the whole store, so a store's Redis work follows the breakers near a threshold, not the
 * number of calls or of state changes.
 */
export class ReportQueue<T extends ReportState> {
  readonly #entries: () => Iterable<[string, T]>;
  readonly #send: (due: [string, T][]) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(entries: () => Iterable<[string, T]>, send: (due: [string, T][]) => void) {
    this.#entries = entries;
    this.#send = send;
  }

  /** Adds a batch to an entry's pending counts, due within `delay` (sooner if it already was). */
  add(entry: T, batch: OutcomeBatch, delay: (pending: OutcomeBatch) => number): void {
    if (this.#closed) return;
    const pending = (entry.pending ??= { calls: 0, failures: 0, slow: 0 });
    pending.calls += batch.calls;
    pending.failures += batch.failures;
    pending.slow += batch.slow;
    entry.dueAt = Math.min(entry.dueAt, Date.now() + delay(pending));
    this.#arm(entry.dueAt);
  }

  /** Sends what is pending now, due or not (before a publication that needs it, and on close). */
  flushNow(only?: [string, T]): void {
    const due = only !== undefined ? [only] : [...this.#entries()];
    this.#dispatch(due.filter(([, entry]) => entry.pending !== undefined));
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(at: number): void {
    if (this.#closed || at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const horizon = Date.now() + COALESCE_MS;
    const due: [string, T][] = [];
    let next = Infinity;
    for (const item of this.#entries()) {
      const entry = item[1];
      if (entry.pending === undefined) continue;
      if (entry.dueAt <= horizon) due.push(item);
      else next = Math.min(next, entry.dueAt);
    }
    this.#dispatch(due);
    if (next !== Infinity) this.#arm(next);
  }

  #dispatch(due: [string, T][]): void {
    if (due.length === 0) return;
    this.#send(due);
    for (const [, entry] of due) {
      entry.pending = undefined;
      entry.dueAt = Infinity;
    }
  }
}
