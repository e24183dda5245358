import type { SlidingWindow } from './SlidingWindow.js';

const TAKEN = 1;
const FAILED = 2;
const SLOW = 4;

/** The last `size` calls, in a ring of one byte per call; the oldest is subtracted as it leaves. */
export class CountWindow implements SlidingWindow {
  calls = 0;
  failures = 0;
  slow = 0;
  readonly #ring: Uint8Array;
  #next = 0;

  constructor(size: number) {
    this.#ring = new Uint8Array(size);
  }

  record(failure: boolean, slow: boolean): void {
    const ring = this.#ring;
    const index = this.#next;
    const old = ring[index] ?? 0;
    if (old !== 0) {
      this.calls--;
      if ((old & FAILED) !== 0) this.failures--;
      if ((old & SLOW) !== 0) this.slow--;
    }
    ring[index] = TAKEN | (failure ? FAILED : 0) | (slow ? SLOW : 0);
    this.#next = index + 1 === ring.length ? 0 : index + 1;
    this.calls++;
    if (failure) this.failures++;
    if (slow) this.slow++;
  }

  advance(): void {}

  reset(): void {
    this.#ring.fill(0);
    this.#next = 0;
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }
}
