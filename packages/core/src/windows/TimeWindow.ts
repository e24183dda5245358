import type { SlidingWindow } from './SlidingWindow.js';

/**
 * The calls of the last `duration` milliseconds, in `buckets` slices. Slices are evicted by
 * elapsed time, so an idle gap empties the window even when no call came during it.
 */
export class TimeWindow implements SlidingWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  readonly #sliceMs: number;
  readonly #calls: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #slow: Uint32Array;
  /** Index, counted from the epoch, of the newest slice. */
  #head = Number.NEGATIVE_INFINITY;

  constructor(duration: number, buckets: number) {
    this.#sliceMs = duration / buckets;
    this.#calls = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#slow = new Uint32Array(buckets);
  }

  record(failure: boolean, slow: boolean, now: number): void {
    this.advance(now);
    const index = this.#slot(this.#head);
    this.#calls[index]!++;
    this.calls++;
    if (failure) {
      this.#failures[index]!++;
      this.failures++;
    }
    if (slow) {
      this.#slow[index]!++;
      this.slow++;
    }
  }

  advance(now: number): void {
    const slice = Math.floor(now / this.#sliceMs);
    const head = this.#head;
    // A clock that steps back keeps counting into the newest slice.
    // Stryker disable next-line EqualityOperator: the same slice again evicts nothing and keeps the head
    if (slice <= head) return;
    const size = this.#calls.length;
    // Stryker disable next-line EqualityOperator: evicting all `size` slices one by one equals a reset
    if (slice - head >= size) {
      this.reset();
    } else {
      for (let s = head + 1; s <= slice; s++) {
        const index = this.#slot(s);
        this.calls -= this.#calls[index]!;
        this.failures -= this.#failures[index]!;
        this.slow -= this.#slow[index]!;
        this.#calls[index] = 0;
        this.#failures[index] = 0;
        this.#slow[index] = 0;
      }
    }
    this.#head = slice;
  }

  reset(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#slow.fill(0);
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }

  #slot(slice: number): number {
    const size = this.#calls.length;
    return ((slice % size) + size) % size;
  }
}
