import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from './clock.js';

describe('systemClock', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2026, 5, 1, 12) });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a timer once its delay has passed, and not before', () => {
    const fired: number[] = [];
    systemClock.setTimeout(() => fired.push(Date.now()), 200);
    vi.advanceTimersByTime(199);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([Date.UTC(2026, 5, 1, 12) + 200]);
  });

  it('a cleared timer never runs', () => {
    const fired: string[] = [];
    const handle = systemClock.setTimeout(() => fired.push('late'), 100);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual([]);
  });

  it('ignores an unknown handle when clearing', () => {
    expect(() => systemClock.clearTimeout(undefined)).not.toThrow();
    expect(() => systemClock.clearTimeout(42)).not.toThrow();
  });
});

describe('systemClock time and the process', () => {
  it('reads the wall clock in milliseconds since the epoch', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  type NodeTimer = { hasRef(): boolean };

  it('an unref timer does not keep the process alive; others do', () => {
    const handles = [
      systemClock.setTimeout(() => {}, 60_000, { unref: true }),
      systemClock.setTimeout(() => {}, 60_000),
      systemClock.setTimeout(() => {}, 60_000, {}),
      systemClock.setTimeout(() => {}, 60_000, { unref: false }),
    ];
    try {
      expect(handles.map((handle) => (handle as NodeTimer).hasRef())).toEqual([false, true, true, true]);
    } finally {
      for (const handle of handles) systemClock.clearTimeout(handle);
    }
  });
});
