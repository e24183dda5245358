import type { Clock, TimerHandle } from './clock.js';

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to, for tests of timing rules without real waiting.
 * Timers fire in order of due time as `advance` passes them.
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;

  /** Starts at `start` milliseconds since the epoch (default 2026-01-01T00:00:00Z). */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    // Stryker disable next-line UpdateOperator: counting down gives unique handles as well
    const timer = { id: this.#nextId++, due: this.#now + Math.max(0, ms), fn };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing each timer that falls due at its own due time. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance expects a non-negative number; received ${ms}`);
    const target = this.#now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.#timers) {
        if (timer.due <= target && (next === undefined || timer.due < next.due)) next = timer;
      }
      if (next === undefined) break;
      const fired = next;
      this.#timers = this.#timers.filter((timer) => timer !== fired);
      this.#now = Math.max(this.#now, fired.due);
      fired.fn();
    }
    this.#now = target;
  }

  /** Sets the time; timers due by then fire. Going back in time fires nothing. */
  set(time: number): void {
    if (time >= this.#now) this.advance(time - this.#now);
    else this.#now = time;
  }
}
