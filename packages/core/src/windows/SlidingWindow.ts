/** Outcome counts over the calls a window currently holds. */
export interface WindowCounts {
  readonly calls: number;
  readonly failures: number;
  readonly slow: number;
}

/**
 * A sliding window of call outcomes. `calls`, `failures` and `slow` are kept up to date
 * on every `record`, so reading them is free; `advance` drops what time has pushed out.
 */
export interface SlidingWindow extends WindowCounts {
  /** Adds one call's outcome at clock time `now`. O(1) amortised. */
  record(failure: boolean, slow: boolean, now: number): void;
  /** Evicts everything older than the window at clock time `now`. */
  advance(now: number): void;
  /** Forgets every call. */
  reset(): void;
}
