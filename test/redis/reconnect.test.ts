import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, fail, privateRedis, replica, sleep, watchProcess } from './fixtures.js';
import { until } from './server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function admin(url: string): Redis {
  const client = new Redis(url, { lazyConnect: false });
  cleanup.add(() => client.disconnect());
  return client;
}

describe('RedisStore after the connection comes back', () => {
  for (const outage of [0, 50, 1_500]) {
    it(`Redis killed for ${outage} ms and restarted empty: a trip made afterwards reaches the other replica within 100 ms`, async () => {
      const process = watchProcess(cleanup);
      const redis = await privateRedis(cleanup);
      const a = await replica(cleanup, redis.url, 'orders', { failureThreshold: 1 });
      const b = await replica(cleanup, redis.url, 'orders', { failureThreshold: 1 });
      const readyA = a.readies();
      const readyB = b.readies();
      await redis.stop();
      for (let i = 0; i < 20; i++) await a.breaker.fire(() => 'ok');
      await sleep(outage);
      const restarted = await privateRedis(cleanup, [], redis.port);
      await until(() => a.readies() > readyA && b.readies() > readyB, 10_000);
      expect(await admin(restarted.url).call('PUBSUB', 'NUMSUB', 'breaker:state')).toEqual([
        'breaker:state',
        2,
      ]);
      await fail(a.breaker);
      expect(await until(() => b.breaker.state === 'open', 1_000)).toBeLessThan(100);
      for (const error of [...a.errors, ...b.errors]) {
        expect(typeof error.message).toBe('string');
        expect(error.message.length).toBeGreaterThan(0);
      }
      expect(process).toEqual([]);
    }, 20_000);
  }

  it('Redis restarted empty while the fleet is open: the first replica to close brings the others with it', async () => {
    const redis = await privateRedis(cleanup);
    const options = { failureThreshold: 1, timeout: 300 };
    const a = await replica(cleanup, redis.url, 'nightly', options);
    const b = await replica(cleanup, redis.url, 'nightly', options);
    await fail(a.breaker);
    await until(() => b.breaker.state === 'open', 1_000);
    const readyA = a.readies();
    const readyB = b.readies();
    await redis.stop();
    // Both turn half-open on their own timers while Redis is gone.
    await until(() => a.breaker.state === 'half-open' && b.breaker.state === 'half-open', 2_000);
    await privateRedis(cleanup, [], redis.port);
    await until(() => a.readies() > readyA && b.readies() > readyB, 10_000);
    await a.breaker.fire(() => 'ok');
    expect(a.breaker.state).toBe('closed');
    // No call reaches b: it closes because a's trial was shared, not by a trial of its own.
    expect(await until(() => b.breaker.state === 'closed', 1_000)).toBeLessThan(100);
  });

  it('a trip that Redis refused to store is published again as soon as Redis takes writes, not at the next reconciliation', async () => {
    const redis = await privateRedis(cleanup);
    const a = await replica(cleanup, redis.url, 'refused', { failureThreshold: 1 });
    const b = await replica(cleanup, redis.url, 'refused', { failureThreshold: 1 });
    const operator = admin(redis.url);
    // Out of memory: Redis refuses every script that writes, as a full or failing-over node does.
    await operator.config('SET', 'maxmemory-policy', 'noeviction');
    await operator.config('SET', 'maxmemory', '1');
    await fail(a.breaker);
    expect(a.breaker.state).toBe('open');
    await sleep(300);
    expect(b.breaker.state).toBe('closed');
    expect(a.errors.map((error) => error.message).join('\n')).toMatch(/OOM/);
    await operator.config('SET', 'maxmemory', '0');
    // Well under the default reconciliation interval (5 s).
    expect(await until(() => b.breaker.state === 'open', 3_000)).toBeLessThan(2_500);
  });

  it('the subscriber killed with CLIENT KILL TYPE pubsub: trips reach every replica again', async () => {
    const redis = await privateRedis(cleanup);
    const a = await replica(cleanup, redis.url, 'search', { failureThreshold: 1 });
    const b = await replica(cleanup, redis.url, 'search', { failureThreshold: 1 });
    const readyB = b.readies();
    await admin(redis.url).call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until(() => b.readies() > readyB, 5_000);
    await fail(a.breaker);
    expect(await until(() => b.breaker.state === 'open', 1_000)).toBeLessThan(100);
  });

  it('a change that never reached a replica by pub/sub is healed by the periodic read while it has traffic', async () => {
    const redis = await privateRedis(cleanup);
    const b = await replica(cleanup, redis.url, 'missed', {}, { reconcileInterval: 500 });
    // A trip stored by another replica whose publication was lost.
    const shared = {
      version: 1,
      name: 'missed',
      state: 'open',
      round: 5,
      openedAt: Date.now(),
      openUntil: Date.now() + 30_000,
      trips: 1,
      reason: 'consecutive-failures',
      origin: 'elsewhere',
    };
    // What the publish script stores: the state, and its round under a key of its own.
    await admin(redis.url).hset(
      '{breaker:missed}:state',
      'json',
      JSON.stringify(shared),
      'round',
      5,
      'state',
      'open',
    );
    await admin(redis.url).set('{breaker:missed}:round', 5);
    const started = Date.now();
    while (b.breaker.state !== 'open' && Date.now() - started < 3_000) {
      await b.breaker.fire(() => 'ok').catch(() => {});
      await sleep(20);
    }
    expect(b.breaker.state).toBe('open');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('a subscription the server lost while the socket stayed up is found and made again', async () => {
    const redis = await privateRedis(cleanup);
    const a = await replica(cleanup, redis.url, 'silent', { failureThreshold: 1 });
    // b's store is given a client, so the test can reach the subscriber the store duplicates from it.
    const base = admin(redis.url);
    let subscriber: Redis | undefined;
    const duplicate = base.duplicate.bind(base);
    base.duplicate = (...args: Parameters<Redis['duplicate']>) => (subscriber = duplicate(...args));
    const b = await replica(
      cleanup,
      redis.url,
      'silent',
      { failureThreshold: 1 },
      { client: base, reconcileInterval: 500 },
    );
    // Unsubscribe behind the store's back: the socket lives on, the server no longer sends to it.
    await subscriber!.unsubscribe('breaker:state');
    const started = Date.now();
    for (;;) {
      const [, count] = (await base.call('PUBSUB', 'NUMSUB', 'breaker:state')) as [string, number];
      if (count === 2) break;
      expect(Date.now() - started).toBeLessThan(3_000);
      await sleep(20);
    }
    await fail(a.breaker);
    await until(() => b.breaker.state === 'open', 1_000);
  });

  it('an outage reports each distinct connection error once, not on every reconnect attempt', async () => {
    const redis = await privateRedis(cleanup);
    const a = await replica(cleanup, redis.url, 'quiet');
    await redis.stop();
    const started = Date.now();
    while (Date.now() - started < 3_000) {
      await a.breaker.fire(() => 'ok');
      await sleep(5);
    }
    const messages = a.errors.map((error) => error.message);
    expect(new Set(messages).size).toBe(messages.length);
    expect(messages.length).toBeLessThan(6);
  });
});
