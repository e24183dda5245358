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

  it('refuses a step that is not a number of milliseconds, and stays where it was', () => {
    const clock = new ManualClock(5_000);
    expect(() => clock.advance(-1)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: ManualClock.advance expects a non-negative number; received -1]`,
    );
    expect(() => clock.advance(Number.NaN)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: ManualClock.advance expects a non-negative number; received NaN]`,
    );
    expect(clock.now()).toBe(5_000);
  });

  it('starts at the first of January 2026, UTC, unless told otherwise', () => {
    expect(new ManualClock().now()).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(new ManualClock(0).now()).toBe(0);
  });

  it('fires a timer due exactly at the end of an advance, and not one due a millisecond later', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('at 100'), 100);
    clock.setTimeout(() => fired.push('at 101'), 101);
    clock.advance(100);
    expect(fired).toEqual(['at 100']);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(0);
    expect(fired).toEqual(['at 100']);
    clock.advance(1);
    expect(fired).toEqual(['at 100', 'at 101']);
  });

  it('fires timers due at the same time in the order they were set', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('first'), 50);
    clock.setTimeout(() => fired.push('second'), 50);
    clock.setTimeout(() => fired.push('third'), 50);
    clock.advance(50);
    expect(fired).toEqual(['first', 'second', 'third']);
  });

  it('treats a negative delay as none: the timer fires on the next advance, at the current time', () => {
    const clock = new ManualClock(1_000);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), -500);
    clock.advance(0);
    expect(fired).toEqual([1_000]);
  });

  it('counts pending timers and ignores an unknown handle when clearing', () => {
    const clock = new ManualClock(0);
    const first = clock.setTimeout(() => {}, 10);
    const second = clock.setTimeout(() => {}, 20);
    expect(first).not.toBe(second);
    expect(clock.pendingTimers).toBe(2);
    clock.clearTimeout('nothing');
    clock.clearTimeout(undefined);
    expect(clock.pendingTimers).toBe(2);
    clock.clearTimeout(second);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(10);
    expect(clock.pendingTimers).toBe(0);
  });

  it('set moves forward firing due timers, and moves back firing nothing', () => {
    const clock = new ManualClock(1_000);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 500);
    clock.set(1_200);
    expect(clock.now()).toBe(1_200);
    expect(fired).toEqual([]);
    clock.set(900);
    expect(clock.now()).toBe(900);
    expect(fired).toEqual([]);
    clock.set(900);
    expect(clock.now()).toBe(900);
    clock.set(2_000);
    expect(fired).toEqual([1_500]);
    expect(clock.now()).toBe(2_000);
  });

  it('set to the current time fires a timer due now', () => {
    const clock = new ManualClock(1_000);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 0);
    clock.set(1_000);
    expect(fired).toEqual([1_000]);
  });
});
