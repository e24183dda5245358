import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { BreakerOpenError } from './errors.js';
import { MemoryStore } from './store.js';
import { ManualClock } from './testing.js';

function recovered(options: { recoveryDuration?: number; recoveryInitialRate?: number } = {}) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({
    clock,
    failureThreshold: 1,
    timeout: 1_000,
    recoveryDuration: 10_000,
    ...options,
  });
  return { clock, breaker };
}

async function trip(breaker: CircuitBreaker, clock: ManualClock) {
  await breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
  clock.advance(1_000);
  await breaker.fire(() => 'trial');
}

/** Fires `count` calls at one instant and returns how many were admitted. */
async function admittedOf(breaker: CircuitBreaker, count: number): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < count; i++) {
    const result = await breaker
      .fire(() => 'ok')
      .then(() => true)
      .catch((error: unknown) => {
        expect(error).toBeInstanceOf(BreakerOpenError);
        expect(error).toMatchObject({ state: 'recovering', retryAfterMs: 0 });
        return false;
      });
    if (result) admitted++;
  }
  return admitted;
}

describe('gradual recovery', () => {
  it('admits a share that grows from recoveryInitialRate to 100 % over recoveryDuration', async () => {
    const { breaker, clock } = recovered({ recoveryInitialRate: 10 });
    await trip(breaker, clock);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().recovery).toMatchObject({ admittedRate: 10 });
    expect(await admittedOf(breaker, 100)).toBe(10);
    clock.advance(5_000);
    expect(breaker.stats().recovery!.admittedRate).toBe(55);
    const halfway = await admittedOf(breaker, 100);
    expect(halfway).toBeGreaterThanOrEqual(50);
    expect(halfway).toBeLessThanOrEqual(60);
    clock.advance(5_000);
    expect(await admittedOf(breaker, 100)).toBe(100);
    expect(breaker.stats().recovery).toBeNull();
  });

  it('counts the admitted share afresh each second, from the first call of the second', async () => {
    const { breaker, clock } = recovered({ recoveryInitialRate: 10, recoveryDuration: 100_000 });
    await trip(breaker, clock);
    expect(await admittedOf(breaker, 1)).toBe(1);
    clock.advance(999);
    expect(await admittedOf(breaker, 1)).toBe(0);
    clock.advance(1);
    expect(await admittedOf(breaker, 1)).toBe(1);
    expect(await admittedOf(breaker, 1)).toBe(0);
  });

  it('a failure during the ramp opens the breaker again', async () => {
    const { breaker, clock } = recovered();
    const reasons: string[] = [];
    breaker.on('open', (event) => reasons.push(event.reason));
    await trip(breaker, clock);
    await breaker.fire(() => Promise.reject(new Error('still weak'))).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(reasons).toEqual(['consecutive-failures', 'recovery-failure']);
  });

  it('a plain close (reset, or no ramp configured) admits everything at once', async () => {
    const { breaker, clock } = recovered();
    breaker.forceOpen();
    breaker.reset();
    expect(await admittedOf(breaker, 20)).toBe(20);
    const plain = new CircuitBreaker({ clock, failureThreshold: 1, timeout: 1_000 });
    await trip(plain, clock);
    expect(await admittedOf(plain, 20)).toBe(20);
  });

  it('replicas that learn of the recovery through a store ramp up too', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    const make = () =>
      new CircuitBreaker({
        name: 'p',
        clock,
        store,
        failureThreshold: 1,
        timeout: 1_000,
        recoveryDuration: 10_000,
      });
    const a = make();
    const b = make();
    await trip(a, clock);
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    expect(b.stats().recovery).not.toBeNull();
    expect(await admittedOf(b, 10)).toBe(1);
  });

  it('checks its options', () => {
    expect(() => new CircuitBreaker({ recoveryInitialRate: 0 })).toThrow(/"recoveryInitialRate"/);
    expect(() => new CircuitBreaker({ recoveryDuration: -5 })).toThrow(/"recoveryDuration"/);
    expect(() => new CircuitBreaker({ rampUpDuration: 5 } as never)).toThrow(
      /Did you mean `recoveryDuration`/,
    );
  });
});
