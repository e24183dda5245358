/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/** A source of time and timers; breakers read time only through it, so tests can move a manual clock. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` after `ms`; an `unref` timer does not keep the process alive. */
  setTimeout(fn: () => void, ms: number, options?: { unref?: boolean }): TimerHandle;
  /** Cancels a timer made by {@link Clock.setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The wall clock and Node's timers. */
export const systemClock: Clock = {
  now: Date.now,
  setTimeout(fn, ms, options) {
    const timer = setTimeout(fn, ms);
    if (options?.unref === true) timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout> | undefined);
  },
};
