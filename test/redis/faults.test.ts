import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker, type BreakerOptions } from '@breaker/core';
import { RedisStore, type RedisStoreOptions } from '@breaker/redis';
import { freePort, startRedis, until, type TestRedis } from './server.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(extra: string[] = [], port?: number): Promise<TestRedis> {
  const started = await startRedis(port, extra);
  cleanup.push(() => started.stop());
  return started;
}

async function replica(
  url: string,
  name: string,
  options: BreakerOptions = {},
  store: Partial<RedisStoreOptions> = {},
) {
  const redisStore = new RedisStore({ url, commandTimeout: 200, ...store });
  const errors: Error[] = [];
  redisStore.on('error', ({ error }) => errors.push(error));
  const breaker = new CircuitBreaker({
    name,
    store: redisStore,
    failureThreshold: 2,
    timeout: 5_000,
    ...options,
  });
  cleanup.push(
    () => redisStore.close(),
    () => breaker.dispose(),
  );
  await until(() => redisStore.connected);
  return { store: redisStore, breaker, errors };
}

const fail = (breaker: CircuitBreaker) =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch((e: unknown) => e);

/** Fires `count` calls and returns the slowest one's time: none may wait on Redis. */
async function slowestCall(breaker: CircuitBreaker, count: number): Promise<number> {
  let slowest = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await breaker.fire(() => 'ok');
    slowest = Math.max(slowest, performance.now() - started);
  }
  return slowest;
}

describe('RedisStore under faults', () => {
  it('Redis killed: calls go on with local state, errors come as events, and a restart resyncs', async () => {
    const redis = await server();
    const a = await replica(redis.url, 'orders');
    const b = await replica(redis.url, 'orders');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanup.push(() => process.off('unhandledRejection', onUnhandled));

    await redis.stop();
    await until(() => !a.store.connected);
    expect(await slowestCall(a.breaker, 200)).toBeLessThan(50);
    // The local rules still work: a trips on its own while Redis is away.
    await fail(a.breaker);
    await fail(a.breaker);
    expect(a.breaker.state).toBe('open');
    expect(b.breaker.state).toBe('closed');
    const storeErrors: unknown[] = [];
    b.breaker.on('store-error', ({ error }) => storeErrors.push(error));

    // Redis comes back empty, on the same port: a republishes its newer state, b adopts it.
    await server([], redis.port);
    await until(() => b.breaker.state === 'open', 10_000);
    expect(a.errors.length).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
  }, 20_000);

  it('Redis paused (SIGSTOP): no call waits, and the store recovers when it resumes', async () => {
    const redis = await server();
    const a = await replica(redis.url, 'search', {
      failureThreshold: 1_000,
      failureRateThreshold: 90,
      window: { type: 'time', duration: 2_000 },
    });
    const b = await replica(redis.url, 'search', { failureThreshold: 1 });
    redis.pause();
    cleanup.push(() => redis.resume());
    // Successes go out a quarter of the 2 s window later: the report times out while calls go on.
    expect(await slowestCall(a.breaker, 300)).toBeLessThan(50);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await slowestCall(a.breaker, 32)).toBeLessThan(50);
    await until(() => a.errors.some((error) => /timed out/i.test(error.message)), 6_000);
    redis.resume();
    await until(() => a.store.connected && b.store.connected, 5_000);
    await fail(b.breaker);
    await until(() => a.breaker.state === 'open', 3_000);
  }, 20_000);

  it('a slow Redis never slows a call', async () => {
    const redis = await server();
    const a = await replica(redis.url, 'slow', { failureThreshold: 1_000 });
    const admin = new Redis(redis.url);
    cleanup.push(() => admin.disconnect());
    // DEBUG SLEEP blocks the server for the given seconds.
    void admin.call('DEBUG', 'SLEEP', '0.5').catch(() => {});
    expect(await slowestCall(a.breaker, 200)).toBeLessThan(50);
  }, 20_000);

  it('a store that cannot connect never fails a call and never leaks the password', async () => {
    const port = await freePort();
    const redis = await server(['--requirepass', 'correct-horse'], port);
    const wrong = `redis://:s3cret-battery@127.0.0.1:${redis.port}`;
    const store = new RedisStore({ url: wrong, commandTimeout: 200 });
    const errors: Error[] = [];
    store.on('error', ({ error }) => errors.push(error));
    cleanup.push(() => store.close());
    const breaker = new CircuitBreaker({ name: 'secret', store, failureThreshold: 1, timeout: 1_000 });
    cleanup.push(() => breaker.dispose());
    const breakerErrors: unknown[] = [];
    breaker.on('store-error', ({ error }) => breakerErrors.push(error));
    await until(() => errors.length > 0, 5_000);
    await expect(breaker.fire(() => 'still works')).resolves.toBe('still works');
    await fail(breaker);
    expect(breaker.state).toBe('open');
    for (const error of [...errors, ...breakerErrors] as Error[]) {
      expect(`${error.message} ${error.stack ?? ''}`).not.toContain('s3cret-battery');
    }
    expect(JSON.stringify(store)).not.toContain('s3cret-battery');
  }, 20_000);

  it('keys carry the breaker hash tag and a TTL', async () => {
    const redis = await server();
    const a = await replica(redis.url, 'tagged', {
      failureRateThreshold: 50,
      minimumCalls: 100,
      failureThreshold: 1,
    });
    for (let i = 0; i < 70; i++) await a.breaker.fire(() => 'ok');
    await fail(a.breaker);
    const admin = new Redis(redis.url);
    cleanup.push(() => admin.disconnect());
    await until(() => a.breaker.state === 'open');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key.startsWith('{breaker:tagged}:')).toBe(true);
      expect(await admin.pttl(key)).toBeGreaterThan(0);
    }
  }, 20_000);

  it('with a quorum, one replica trips alone until enough replicas see failures', async () => {
    const redis = await server();
    const options = { failureThreshold: 2 };
    const a = await replica(redis.url, 'quorum', options, { quorum: 2 });
    const b = await replica(redis.url, 'quorum', options, { quorum: 2 });
    const c = await replica(redis.url, 'quorum', options, { quorum: 2 });
    await fail(a.breaker);
    await fail(a.breaker);
    expect(a.breaker.state).toBe('open');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(b.breaker.state).toBe('closed');
    expect(c.breaker.state).toBe('closed');
    // A second replica sees failures too: its trip now speaks for the fleet.
    await fail(b.breaker);
    await fail(b.breaker);
    await until(() => c.breaker.state === 'open');
  }, 20_000);
});
