import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Cleanup,
  commandCounts,
  counting,
  fail,
  privateRedis,
  replica,
  scripts,
  sleep,
  type Replica,
} from './fixtures.js';
import { until } from './server.js';

// Many replicas in this one process stand for a fleet: each waits a random moment before it publishes a
// change that every replica makes at once. These tests run after the other files, one at a time, so
// that a loaded machine does not fire every replica's timer in the same turn of the event loop.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const operator = (url: string): Promise<Redis> => counting(cleanup, url);

describe('RedisStore: a change every replica makes at once is published by one', () => {
  it('replicas tripping at the same moment store the trip once, and the script reads no clock', async () => {
    const redis = await privateRedis(cleanup);
    const options = { failureThreshold: 1, timeout: 5_000 };
    const replicas: Replica[] = [];
    for (let i = 0; i < 10; i++) replicas.push(await replica(cleanup, redis.url, 'burst', options));
    const admin = await operator(redis.url);
    await Promise.all(replicas.map((r) => fail(r.breaker)));
    await until(() => replicas.every((r) => r.breaker.state === 'open'));
    await sleep(100);
    const counts = await commandCounts(admin);
    expect(counts.publish).toBe(1);
    // Each replica waits a random moment of up to 20 ms and skips its own once the first trip is heard,
    // which saves most of the scripts when this process keeps up; how many depends on the machine's
    // load (the scale bench measures it), so here only this: no replica sends its trip twice. Each script
    // read TIME, before.
    expect(scripts(counts)).toBeLessThanOrEqual(replicas.length);
    expect(counts.time ?? 0).toBe(0);
    expect(await admin.hget('{breaker:burst}:state', 'state')).toBe('open');
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
    expect(scripts(counts)).toBeLessThanOrEqual(2);
    expect(await admin.hget('{breaker:together}:state', 'state')).toBe('half-open');
  });
});
