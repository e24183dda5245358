// How late each tick of a short interval came, over the last minutes. A loop that is behind delays every
// step of an answer (a timer, then the I/O it starts, then the callbacks of that I/O), so a request can
// be late by as much as the loop stalled, in all, while it waited: beyond that, the library made it late.

/**
 * Starts watching the event loop of this process; `onTick` runs on every tick. Returns `stalls(from, to)`,
 * the loop's stalls between two `performance.now()` times (the longest, and all of them together), and
 * `stop()`.
 */
export function watchStalls({ tickMs = 20, slots = 4_096, onTick } = {}) {
  const lagAt = new Float64Array(slots);
  const lagMs = new Float64Array(slots);
  let next = 0;
  let lastTick = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lagAt[next % slots] = now;
    lagMs[next % slots] = Math.max(0, now - lastTick - tickMs);
    next++;
    lastTick = now;
    onTick?.(now);
  }, tickMs);
  timer.unref();

  /** A tick `lag` ms late stood for a loop busy from `lag` ms before it came; only the part inside the window counts. */
  function stalls(from, to) {
    let longest = 0;
    let total = 0;
    for (let i = Math.max(0, next - slots); i < next; i++) {
      const at = lagAt[i % slots];
      if (at < from) continue;
      const lag = lagMs[i % slots];
      const inside = Math.max(0, Math.min(at, to) - Math.max(at - lag, from));
      longest = Math.max(longest, inside);
      total += inside;
    }
    return { longest, total };
  }

  return { stalls, stop: () => clearInterval(timer) };
}
