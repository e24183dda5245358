/** Slices of the budget's window; old slices leave whole as time passes. */
const SLICES = 10;

/** What a retry budget holds now. */
export interface RetryBudgetStats {
  /** Calls in the window. */
  calls: number;
  /** Retries the budget would allow now. */
  available: number;
}

/**
 * Limits retries to a share of recent calls, so retries never multiply an outage, with a floor so that
 * low traffic still retries (Finagle's retry budget). A retry is paid from the ratio share first: at most
 * `ratio` × the calls of the last `window` ms; then from a reserve of `minPerSecond` retries that refills at
 * `minPerSecond` per second.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #ratePerMs: number;
  readonly #reserveSize: number;
  readonly #sliceMs: number;
  readonly #calls = new Array<number>(SLICES).fill(0);
  readonly #retries = new Array<number>(SLICES).fill(0);
  #slice = 0;
  #started = false;
  #totalCalls = 0;
  #totalRetries = 0;
  #reserve: number;
  #refilledAt: number | undefined;

  constructor(ratio: number, minPerSecond: number, window: number) {
    this.#ratio = ratio;
    this.#ratePerMs = minPerSecond / 1_000;
    // A fractional rate still pays a whole retry once enough time has passed.
    this.#reserveSize = minPerSecond > 0 ? Math.max(1, minPerSecond) : 0;
    this.#reserve = this.#reserveSize;
    this.#sliceMs = window / SLICES;
  }

  /** Records a call (a first attempt). */
  deposit(now: number): void {
    this.#advance(now);
    this.#calls[this.#index()]!++;
    this.#totalCalls++;
  }

  /** Takes one retry from the budget; `false` when it is spent. */
  tryWithdraw(now: number): boolean {
    this.#advance(now);
    if (this.#totalRetries < this.#ratioShare()) {
      this.#retries[this.#index()]!++;
      this.#totalRetries++;
      return true;
    }
    this.#refill(now);
    if (this.#reserve < 1) return false;
    this.#reserve--;
    return true;
  }

  /** What the budget holds at `now`. */
  stats(now: number): RetryBudgetStats {
    this.#advance(now);
    this.#refill(now);
    const share = Math.max(0, this.#ratioShare() - this.#totalRetries);
    return { calls: this.#totalCalls, available: share + Math.floor(this.#reserve) };
  }

  #ratioShare(): number {
    // The epsilon keeps 0.29 × 100 at 29 rather than 28.999…
    return Math.floor(this.#ratio * this.#totalCalls + 1e-9);
  }

  #refill(now: number): void {
    const last = this.#refilledAt ?? now;
    const elapsed = Math.max(0, now - last);
    this.#reserve = Math.min(this.#reserveSize, this.#reserve + elapsed * this.#ratePerMs);
    this.#refilledAt = Math.max(last, now);
  }

  #index(): number {
    return ((this.#slice % SLICES) + SLICES) % SLICES;
  }

  /** Evicts by elapsed time, so calls from before an idle gap never linger. */
  #advance(now: number): void {
    const slice = Math.floor(now / this.#sliceMs);
    if (!this.#started) {
      this.#started = true;
      this.#slice = slice;
      return;
    }
    // Stryker disable next-line EqualityOperator: in the same slice, nothing is evicted and the slice stays
    if (slice <= this.#slice) return;
    const gone = Math.min(SLICES, slice - this.#slice);
    for (let i = 1; i <= gone; i++) {
      const index = (((this.#slice + i) % SLICES) + SLICES) % SLICES;
      this.#totalCalls -= this.#calls[index]!;
      this.#totalRetries -= this.#retries[index]!;
      this.#calls[index] = 0;
      this.#retries[index] = 0;
    }
    this.#slice = slice;
  }
}
