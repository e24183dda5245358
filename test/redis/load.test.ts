import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '@breaker/core';
import { RedisStore } from '@breaker/redis';
import { Cleanup, fail, privateRedis, replica, sleep, type Replica } from './fixtures.js';
import { until } from './server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Reads how many times Redis ran each command since the last reset, scripts' inner commands included. */
async function commandCounts(admin: Redis): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  const counts: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

async function operator(url: string): Promise<Redis> {
  const admin = new Redis(url);
  cleanup.add(() => admin.disconnect());
  await admin.config('RESETSTAT');
  return admin;
}

describe('RedisStore: its Redis work follows the breakers that need it', () => {
  it('steady successes on 50 breakers: one pipelined round every few seconds, not one script per breaker four times a second', async () => {
    const redis = await privateRedis(cleanup);
    const store = new RedisStore({ url: redis.url });
    cleanup.add(() => store.close());
    await until(() => store.connected, 5_000);
    const breakers = Array.from(
      { length: 50 },
      (_, i) => new CircuitBreaker({ name: `steady-${i}`, store, failureRateThreshold: 50 }),
    );
    cleanup.add(() => breakers.forEach((breaker) => breaker.dispose()));
    const admin = await operator(redis.url);
    const started = Date.now();
    while (Date.now() - started < 3_500) {
      for (const breaker of breakers) await breaker.fire(() => 'ok');
      await sleep(20);
    }
    const counts = await commandCounts(admin);
    // Successes wait a twentieth of the 60 s window: one report per breaker in 3.5 s, sent together.
    // Each breaker used to send one every 250 ms: about 700 scripts.
    expect(counts.evalsha).toBeGreaterThanOrEqual(25);
    expect(counts.evalsha).toBeLessThanOrEqual(100);
    expect(counts.hset ?? 0).toBe(0);
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
    // Two hand-overs of 16 calls, each due a twentieth of the 5 s window later.
    await sleep(600);
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
    const options = { failureThreshold: 1, timeout: 300 };
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
    while (Date.now() - started < 300) {
      for (let i = 0; i < 10; i++) calls.push(b.breaker.fire(() => 'b').catch(() => 'rejected'));
      await sleep(2);
    }
    const leases = (await commandCounts(admin)).evalsha ?? 0;
    finish();
    await Promise.all([trial, ...calls]);
    expect(calls.length).toBeGreaterThan(500);
    // Refusals make it wait 100 ms, then 200, 400...: a handful of asks in 300 ms, not hundreds.
    expect(leases).toBeLessThanOrEqual(6);
    await until(() => b.breaker.state === 'closed');
  });

  it("the open time ending on every replica at once: one replica's half-open is published, not every one's", async () => {
    const redis = await privateRedis(cleanup);
    const options = { failureThreshold: 1, timeout: 400 };
    const replicas: Replica[] = [];
    for (let i = 0; i < 5; i++) replicas.push(await replica(cleanup, redis.url, 'together', options));
    await fail(replicas[0]!.breaker);
    await until(() => replicas.every((r) => r.breaker.state === 'open'));
    const admin = await operator(redis.url);
    await until(() => replicas.every((r) => r.breaker.state === 'half-open'), 2_000);
    await sleep(300);
    const counts = await commandCounts(admin);
    expect(counts.publish).toBe(1);
    expect(counts.evalsha ?? 0).toBeLessThanOrEqual(2);
    expect(await admin.hget('{breaker:together}:state', 'state')).toBe('half-open');
  });
});
