import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker, type BreakerOptions } from '@breaker/core';
import { RedisStore, type RedisStoreOptions } from '@breaker/redis';
import { Cleanup, commandCounts, counting, fail, privateRedis, replica, scripts, sleep } from './fixtures.js';
import { until } from './server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** One store on `url` with `count` breakers named `${prefix}-0`, `${prefix}-1`, … */
async function storeWith(
  url: string,
  count: number,
  prefix: string,
  options: BreakerOptions = {},
  storeOptions: Partial<RedisStoreOptions> = {},
): Promise<CircuitBreaker[]> {
  const store = new RedisStore({ url, ...storeOptions });
  cleanup.add(() => store.close());
  await until(() => store.connected, 5_000);
  const breakers = Array.from(
    { length: count },
    (_, i) => new CircuitBreaker({ name: `${prefix}-${i}`, store, ...options }),
  );
  cleanup.add(() => breakers.forEach((breaker) => breaker.dispose()));
  return breakers;
}

const operator = (url: string): Promise<Redis> => counting(cleanup, url);

/** Waits for an asynchronous condition; resolves with the ms it took. */
async function untilAsync(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
  return performance.now() - started;
}

describe('RedisStore: its Redis work follows the breakers that need it', () => {
  it('50 breakers on one Redis: one script a round for all of them, not one per breaker', async () => {
    const redis = await privateRedis(cleanup);
    // Successes alone wait a quarter of the 2 s window: about three rounds in 1.6 s.
    const options = { failureRateThreshold: 50, window: { type: 'time', duration: 2_000 } } as const;
    const breakers = await storeWith(redis.url, 50, 'steady', options);
    const admin = await operator(redis.url);
    const started = Date.now();
    while (Date.now() - started < 1_600) {
      for (const breaker of breakers) await breaker.fire(() => 'ok');
      await sleep(20);
    }
    await sleep(100);
    const counts = await commandCounts(admin);
    // One script per breaker and round was about 150.
    expect(scripts(counts)).toBeGreaterThanOrEqual(1);
    expect(scripts(counts)).toBeLessThanOrEqual(12);
    expect(counts.hset ?? 0).toBe(0);
    const stored = await Promise.all(breakers.map((_, i) => admin.exists(`{breaker:steady-${i}}:counts`)));
    expect(stored.every((n) => n === 1)).toBe(true);
  });

  it('breakers without a rate rule or a quorum send no counts at all', async () => {
    const redis = await privateRedis(cleanup);
    const options = { failureThreshold: 5, window: { type: 'time', duration: 2_000 } } as const;
    const breakers = await storeWith(redis.url, 20, 'plain', options);
    const admin = await operator(redis.url);
    const started = Date.now();
    while (Date.now() - started < 1_200) {
      for (const [i, breaker] of breakers.entries())
        await breaker.fire(() => (i === 0 ? Promise.reject(new Error('x')) : 'ok')).catch(() => {});
      await sleep(20);
    }
    const counts = await commandCounts(admin);
    // No rule reads a shared window: only the consecutive rule's trip is published.
    expect(counts.hincrby ?? 0).toBe(0);
    expect(await admin.exists('{breaker:plain-1}:counts')).toBe(0);
    expect(breakers[0]!.state).toBe('open');
  });

  it('counts far from every threshold wait a quarter of the window, and one failure among a few calls does not bring them forward', async () => {
    const redis = await privateRedis(cleanup);
    const options = {
      failureRateThreshold: 10,
      minimumCalls: 20,
      failureThreshold: 100,
      window: { type: 'time', duration: 8_000 },
    } as const;
    const a = await replica(cleanup, redis.url, 'far', options);
    const admin = await operator(redis.url);
    await sleep(260);
    // The first counts go at once: until a report returns the fleet's totals, nothing says how far the
    // threshold is.
    for (let i = 0; i < 16; i++) await a.breaker.fire(() => 'ok');
    await untilAsync(async () => (await admin.exists('{breaker:far}:counts')) === 1, 1_000);
    await sleep(300);
    expect(scripts(await commandCounts(admin))).toBe(1);
    // 16 calls, one failed: 6 % of so few calls says little; the fleet's window judges them.
    for (let i = 0; i < 16; i++)
      await a.breaker.fire(() => (i === 3 ? Promise.reject(new Error('x')) : 'ok')).catch(() => {});
    // Successes for 1.2 s more: still within the 2 s hold.
    const started = Date.now();
    while (Date.now() - started < 1_200) {
      await a.breaker.fire(() => 'ok');
      await sleep(5);
    }
    expect(scripts(await commandCounts(admin))).toBe(1);
    await sleep(1_000);
    // Due 2 s after the held counts began: sent once, together.
    expect(scripts(await commandCounts(admin))).toBe(2);
  });

  it('after a state change empties the shared window, every replica reports its successes at once', async () => {
    const redis = await privateRedis(cleanup);
    const options = {
      failureRateThreshold: 50,
      minimumCalls: 20,
      failureThreshold: 1_000,
      timeout: 200,
      window: { type: 'time', duration: 60_000 },
    } as const;
    const a = await replica(cleanup, redis.url, 'refill', options);
    const admin = await operator(redis.url);
    await sleep(260);
    for (let i = 0; i < 16; i++) await a.breaker.fire(() => 'ok');
    await untilAsync(async () => (await admin.exists('{breaker:refill}:counts')) === 1, 1_000);
    // A trip and a close empty the window (the fleet's totals are unknown again)...
    a.breaker.forceOpen();
    a.breaker.reset();
    await untilAsync(async () => (await admin.exists('{breaker:refill}:counts')) === 0, 1_000);
    await sleep(300);
    // ...so the next successes go within a quarter second, not a quarter of the 60 s window.
    for (let i = 0; i < 16; i++) await a.breaker.fire(() => 'ok');
    expect(
      await untilAsync(async () => (await admin.exists('{breaker:refill}:counts')) === 1, 2_000),
    ).toBeLessThan(600);
  });

  it('reconciliation reads the rounds of every active breaker in one command', async () => {
    const redis = await privateRedis(cleanup);
    const breakers = await storeWith(redis.url, 50, 'rec', {}, { reconcileInterval: 200 });
    const admin = await operator(redis.url);
    const started = Date.now();
    let counts = await commandCounts(admin);
    // Until three reconciliations have run (about 0.6 s; longer on a loaded machine).
    while (Date.now() - started < 10_000 && (counts.mget ?? 0) < 3) {
      for (const breaker of breakers) await breaker.fire(() => 'ok');
      await sleep(20);
      counts = await commandCounts(admin);
    }
    expect(counts.mget ?? 0).toBeGreaterThanOrEqual(3);
    // Each read the 50 rounds in one MGET; one read per breaker would be 50 commands a reconciliation.
    expect((counts.hget ?? 0) + (counts.get ?? 0)).toBeLessThanOrEqual(5);
  });

  it('without a quorum, failures leave no reporters hash to write and scan', async () => {
    const redis = await privateRedis(cleanup);
    const options = { failureRateThreshold: 50, window: { type: 'time', duration: 5_000 } } as const;
    const a = await replica(cleanup, redis.url, 'few', options);
    await sleep(260);
    for (let i = 0; i < 32; i++)
      await a.breaker.fire(() => (i % 16 === 0 ? Promise.reject(new Error('x')) : 'ok')).catch(() => {});
    const admin = new Redis(redis.url);
    cleanup.add(() => admin.disconnect());
    // Two hand-overs of 16 calls, due a quarter of the 5 s window after the first.
    await sleep(1_400);
    expect(await admin.hlen('{breaker:few}:counts')).toBeGreaterThan(0);
    expect(await admin.exists('{breaker:few}:reporters')).toBe(0);
  });

  it('failures near a rate threshold still go out within a quarter second', async () => {
    const redis = await privateRedis(cleanup);
    const options = { failureThreshold: 1_000, failureRateThreshold: 50, minimumCalls: 20 };
    const a = await replica(cleanup, redis.url, 'near', options);
    const b = await replica(cleanup, redis.url, 'near', options);
    // A breaker hands its counts to its store every 16th call at most, a quarter second apart at least;
    // neither alone reaches minimumCalls.
    await sleep(260);
    for (let i = 0; i < 16; i++) await fail(a.breaker);
    for (let i = 0; i < 16; i++) await fail(b.breaker);
    expect(await until(() => a.breaker.state === 'open' && b.breaker.state === 'open', 2_000)).toBeLessThan(
      600,
    );
  });

  it('a busy half-open replica without the permit does not ask Redis on every call', async () => {
    const redis = await privateRedis(cleanup);
    // The trial's permit outlives the test, however slow the machine: no lease expires and is cleared meanwhile.
    const options = { failureThreshold: 1, timeout: 300, halfOpenPermitTimeout: 10_000 };
    const a = await replica(cleanup, redis.url, 'leases', options);
    const b = await replica(cleanup, redis.url, 'leases', options);
    await fail(a.breaker);
    await until(() => b.breaker.state === 'open');
    await sleep(320);
    let finish = (): void => {};
    const held = new Promise<string>((resolve) => (finish = () => resolve('ok')));
    const trial = a.breaker.fire(() => held);
    const admin = await operator(redis.url);
    const calls: Promise<unknown>[] = [];
    const started = Date.now();
    // At least 300 ms and 500 calls (a loaded machine takes longer to make them), at most 1.5 s.
    while ((Date.now() - started < 300 || calls.length < 500) && Date.now() - started < 1_500) {
      for (let i = 0; i < 10; i++) calls.push(b.breaker.fire(() => 'b').catch(() => 'rejected'));
      await sleep(2);
    }
    const elapsed = Date.now() - started;
    const counts = await commandCounts(admin);
    const leases = scripts(counts);
    finish();
    await Promise.all([trial, ...calls]);
    expect(calls.length).toBeGreaterThanOrEqual(500);
    // Refusals make it wait 100 ms, then 200, 400, 800, 1,000...: a handful of asks, not hundreds.
    let asks = 1;
    for (let at = 0, wait = 100; at + wait <= elapsed; at += wait, wait = Math.min(wait * 2, 1_000)) asks++;
    expect(leases).toBeLessThanOrEqual(asks + 2);
    // A refusal counts the live permits and changes nothing.
    expect(counts.zcount ?? 0).toBeGreaterThanOrEqual(1);
    expect(counts.zremrangebyscore ?? 0).toBe(0);
    await until(() => b.breaker.state === 'closed');
  });

  it('a key of one breaker that the store never writes fails its counts alone, with an event; the round counts the others', async () => {
    const redis = await privateRedis(cleanup);
    const poison = await operator(redis.url);
    await poison.set('{breaker:bad-0}:counts', 'not a hash');
    const options = { failureRateThreshold: 90, window: { type: 'time', duration: 2_000 } } as const;
    const store = new RedisStore({ url: redis.url });
    const errors: Error[] = [];
    store.on('error', ({ error }) => errors.push(error));
    cleanup.add(() => store.close());
    await until(() => store.connected, 5_000);
    const breakers = ['bad-0', 'good-1', 'good-2'].map(
      (name) => new CircuitBreaker({ name, store, ...options }),
    );
    cleanup.add(() => breakers.forEach((breaker) => breaker.dispose()));
    await sleep(260);
    for (let i = 0; i < 16; i++) for (const breaker of breakers) await breaker.fire(() => 'ok');
    await untilAsync(async () => (await poison.exists('{breaker:good-2}:counts')) === 1, 2_000);
    expect(await poison.exists('{breaker:good-1}:counts')).toBe(1);
    expect(await poison.get('{breaker:bad-0}:counts')).toBe('not a hash');
    await until(() => errors.length > 0, 1_000);
    expect(errors.map((e) => e.message).join(' ')).toMatch(/Ignored the counts of "bad-0"/);
  });

  it('a store that closes right after its breaker tripped still publishes the trip it was spreading', async () => {
    const redis = await privateRedis(cleanup);
    const options = { failureThreshold: 1, timeout: 5_000 };
    const a = await replica(cleanup, redis.url, 'closing', options);
    const b = await replica(cleanup, redis.url, 'closing', options);
    await fail(a.breaker);
    await a.store.close();
    await until(() => b.breaker.state === 'open', 1_000);
  });
});
