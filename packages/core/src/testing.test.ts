import { describe, expect, it } from 'vitest';
import { ManualClock } from './testing.js';

describe('ManualClock', () => {
  it('fires timers in due order, each at its own time', () => {
    const clock = new ManualClock(1_000);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    const cancelled = clock.setTimeout(() => fired.push(['never', clock.now()]), 150);
    clock.clearTimeout(cancelled);
    clock.advance(500);
    expect(fired).toEqual([
      ['a', 1_100],
      ['b', 1_200],
    ]);
    expect(clock.now()).toBe(1_500);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires a timer scheduled by a timer within the same advance', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => clock.setTimeout(() => fired.push(clock.now()), 10), 10);
    clock.advance(100);
    expect(fired).toEqual([20]);
  });

  it('refuses to go back with advance', () => {
    expect(() => new ManualClock().advance(-1)).toThrow(RangeError);
  });
});
