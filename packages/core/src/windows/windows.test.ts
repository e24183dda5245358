import { describe, expect, it } from 'vitest';
import { CountWindow } from './CountWindow.js';
import { TimeWindow } from './TimeWindow.js';

describe('CountWindow', () => {
  it('holds the last `size` calls and subtracts the oldest as it leaves', () => {
    const window = new CountWindow(3);
    window.record(true, false);
    window.record(true, true);
    window.record(false, false);
    expect([window.calls, window.failures, window.slow]).toEqual([3, 2, 1]);
    window.record(false, false);
    expect([window.calls, window.failures, window.slow]).toEqual([3, 1, 1]);
    window.record(false, false);
    expect([window.calls, window.failures, window.slow]).toEqual([3, 0, 0]);
  });

  it('keeps bounded memory after many calls', () => {
    const window = new CountWindow(100);
    for (let i = 0; i < 1_000_000; i++) window.record(i % 10 === 0, false);
    expect(window.calls).toBe(100);
    expect(window.failures).toBe(10);
  });

  it('reset forgets everything', () => {
    const window = new CountWindow(2);
    window.record(true, true);
    window.reset();
    window.record(false, false);
    expect([window.calls, window.failures, window.slow]).toEqual([1, 0, 0]);
  });
});

describe('TimeWindow', () => {
  it('evicts by elapsed time: 4 failures, 5 idle minutes, 1 failure counts 1', () => {
    const window = new TimeWindow(60_000, 10);
    for (let i = 0; i < 4; i++) window.record(true, false, 1_000 + i);
    window.record(true, false, 1_000 + 5 * 60_000);
    expect(window.failures).toBe(1);
    expect(window.calls).toBe(1);
  });

  it('drops slices one at a time as they age out', () => {
    const window = new TimeWindow(10_000, 10);
    window.record(true, false, 0);
    window.record(false, false, 5_000);
    window.advance(9_999);
    expect([window.calls, window.failures]).toEqual([2, 1]);
    window.advance(10_000);
    expect([window.calls, window.failures]).toEqual([1, 0]);
    window.advance(15_000);
    expect(window.calls).toBe(0);
  });

  it('advance alone empties a window after an idle gap', () => {
    const window = new TimeWindow(1_000, 4);
    window.record(true, true, 100);
    window.advance(100 + 3_600_000);
    expect([window.calls, window.failures, window.slow]).toEqual([0, 0, 0]);
  });

  it('a clock that steps back counts into the newest slice', () => {
    const window = new TimeWindow(1_000, 10);
    window.record(false, false, 5_000);
    window.record(true, false, 4_000);
    expect([window.calls, window.failures]).toEqual([2, 1]);
  });

  it('after a step back, the clock coming forward again keeps what the window holds', () => {
    const window = new TimeWindow(1_000, 10);
    window.record(true, true, 5_000);
    window.record(false, false, 4_000);
    window.record(false, false, 5_050);
    expect([window.calls, window.failures, window.slow]).toEqual([3, 1, 1]);
  });

  it('keeps bounded memory however many calls land in one slice', () => {
    const window = new TimeWindow(1_000, 2);
    for (let i = 0; i < 100_000; i++) window.record(false, false, 10);
    expect(window.calls).toBe(100_000);
    window.advance(2_000);
    expect(window.calls).toBe(0);
  });
});
