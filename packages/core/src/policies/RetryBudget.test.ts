import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../testing.js';
import { RetryBudget } from './RetryBudget.js';
import { retry } from './RetryPolicy.js';
import type { RetryBudgetOptions } from './retryOptions.js';

function outage(budget?: RetryBudgetOptions | false) {
  const clock = new ManualClock();
  // random 0: every backoff is 0 ms, so the whole outage happens at one instant.
  const policy = retry({ clock, random: () => 0, ...(budget === undefined ? {} : { budget }) });
  const upstream = vi.fn(() => Promise.reject(new Error('down')));
  const calls = (n: number) =>
    Promise.all(Array.from({ length: n }, () => policy.execute(upstream).catch(() => {})));
  return { clock, policy, upstream, calls };
}

describe('retry budget', () => {
  it('lets 100 failing calls make at most 20 % more calls', async () => {
    const { policy, upstream, calls } = outage({ minPerSecond: 0 });
    await calls(100);
    expect(upstream).toHaveBeenCalledTimes(120);
    expect(policy.stats()).toMatchObject({ retries: 20, giveUps: { attempts: 0, budget: 100 } });
  });

  it('adds the floor: with the defaults, 100 failing calls make 20 + 10 retries', async () => {
    const { policy, upstream, calls } = outage();
    await calls(100);
    expect(upstream).toHaveBeenCalledTimes(130);
    expect(policy.stats().retries).toBe(30);
  });

  it('spends the budget the same way when the calls come one after another', async () => {
    const { policy, upstream } = outage({ minPerSecond: 0 });
    for (let i = 0; i < 100; i++) await policy.execute(upstream).catch(() => {});
    expect(policy.stats().retries).toBe(20);
  });

  it('still retries low traffic, thanks to the floor', async () => {
    const { clock, policy } = outage();
    const gaveUp = vi.fn();
    policy.on('give-up', gaveUp);
    for (let second = 0; second < 30; second++) {
      await policy.execute(() => Promise.reject(new Error('down'))).catch(() => {});
      clock.advance(1_000);
    }
    expect(policy.stats().retries).toBe(60);
    expect(gaveUp.mock.calls.every(([event]) => event.reason === 'attempts')).toBe(true);
  });

  it('refills the floor at minPerSecond', async () => {
    const { clock, policy, calls } = outage({ ratio: 0, minPerSecond: 2 });
    await calls(5);
    expect(policy.stats().retries).toBe(2);
    clock.advance(499);
    await calls(1);
    expect(policy.stats().retries).toBe(2);
    clock.advance(1);
    await calls(1);
    expect(policy.stats().retries).toBe(3);
    clock.advance(60_000);
    await calls(5);
    expect(policy.stats().retries).toBe(5);
  });

  it('reports what it holds', async () => {
    const { policy, calls } = outage({ ratio: 0.5, minPerSecond: 1 });
    expect(policy.stats().budget).toEqual({ calls: 0, available: 1 });
    await calls(4);
    expect(policy.stats().budget).toEqual({ calls: 4, available: 0 });
  });

  it('is off with budget: false', async () => {
    const { policy, upstream, calls } = outage(false);
    await calls(100);
    expect(upstream).toHaveBeenCalledTimes(300);
    expect(policy.stats().budget).toBeNull();
  });
});

describe('RetryBudget', () => {
  it('forgets calls older than its window, even after an idle gap', () => {
    const budget = new RetryBudget(0.5, 0, 10_000);
    for (let i = 0; i < 10; i++) budget.deposit(1_000);
    expect(budget.stats(1_000)).toEqual({ calls: 10, available: 5 });
    expect(budget.stats(10_999)).toEqual({ calls: 10, available: 5 });
    expect(budget.stats(11_000)).toEqual({ calls: 0, available: 0 });
    budget.deposit(300_000);
    budget.deposit(300_000);
    expect(budget.tryWithdraw(300_000)).toBe(true);
    expect(budget.tryWithdraw(300_000)).toBe(false);
  });

  it('lets retries go with the calls that paid for them', () => {
    const budget = new RetryBudget(1, 0, 10_000);
    budget.deposit(0);
    expect(budget.tryWithdraw(0)).toBe(true);
    budget.deposit(5_000);
    expect(budget.tryWithdraw(5_000)).toBe(true);
    expect(budget.tryWithdraw(5_000)).toBe(false);
    // The first call and its retry leave the window together.
    expect(budget.stats(10_000)).toEqual({ calls: 1, available: 0 });
  });

  it('gives back the retries of calls that left the window, and keeps those of the calls still in it', () => {
    const budget = new RetryBudget(1, 0, 10_000);
    budget.deposit(0);
    expect(budget.tryWithdraw(0)).toBe(true);
    budget.deposit(5_000);
    budget.deposit(5_000);
    expect(budget.tryWithdraw(5_000)).toBe(true);
    expect(budget.stats(9_999)).toEqual({ calls: 3, available: 1 });
    expect(budget.stats(10_000)).toEqual({ calls: 2, available: 1 });
    expect(budget.tryWithdraw(10_000)).toBe(true);
    expect(budget.tryWithdraw(10_000)).toBe(false);
  });

  it('forgets old calls on a clock that reads before 1970 too', () => {
    const budget = new RetryBudget(1, 0, 10_000);
    budget.deposit(-60_000);
    budget.deposit(-60_000);
    expect(budget.stats(-60_000)).toEqual({ calls: 2, available: 2 });
    expect(budget.stats(-30_000)).toEqual({ calls: 0, available: 0 });
  });

  it('keeps its calls when the clock steps back and forth again', () => {
    const budget = new RetryBudget(1, 0, 10_000);
    budget.deposit(5_000);
    expect(budget.stats(3_000)).toEqual({ calls: 1, available: 1 });
    expect(budget.stats(5_000)).toEqual({ calls: 1, available: 1 });
  });

  it('keeps a fractional floor able to pay a whole retry', () => {
    const budget = new RetryBudget(0, 0.5, 10_000);
    expect(budget.tryWithdraw(0)).toBe(true);
    expect(budget.tryWithdraw(1_999)).toBe(false);
    expect(budget.tryWithdraw(2_000)).toBe(true);
  });

  it('counts a 0.29 ratio of 100 calls as 29 retries, not 28', () => {
    const budget = new RetryBudget(0.29, 0, 10_000);
    for (let i = 0; i < 100; i++) budget.deposit(0);
    expect(budget.stats(0).available).toBe(29);
  });
});
