import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '@breaker/core';
import { RedisStore } from '@breaker/redis';
import { Cleanup, fail, privateRedis, replica, sleep, watchProcess } from './fixtures.js';
import { freePort, until } from './server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function admin(url: string): Redis {
  const client = new Redis(url);
  cleanup.add(() => client.disconnect());
  return client;
}

const valid = (round: number) => ({
  version: 1,
  name: 'payments',
  state: 'closed',
  round,
  openedAt: null,
  openUntil: null,
  trips: 0,
  reason: 'reset',
  origin: 'elsewhere',
});

const POISON = [
  'null',
  'not json',
  '42',
  '"payments"',
  '[]',
  '{}',
  '{"name":"payments"}',
  '{"name":"payments","state":"exploded","round":7}',
  JSON.stringify({ ...valid(8), state: 'exploded' }),
  JSON.stringify({ ...valid(9), round: 1e308 }),
  JSON.stringify({ ...valid(10), round: -1 }),
  JSON.stringify({ ...valid(11), round: 1.5 }),
  JSON.stringify({ ...valid(12), state: 'open', openUntil: 'later' }),
  JSON.stringify({ ...valid(13), trips: -4 }),
  JSON.stringify({ ...valid(14), reason: 'because' }),
  JSON.stringify({ ...valid(15), origin: 7 }),
  JSON.stringify({ ...valid(16), name: { toString: 1 } }),
  JSON.stringify({ ...valid(17), version: 2 }),
  '{"name":"__proto__","state":"open","round":3}',
  `{"name":"payments","pad":"${'x'.repeat(200_000)}"}`,
];

/** Every string reachable from an error's own properties, enumerable or not, nested or not. */
function everything(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || seen.has(value)) return String(value);
  seen.add(value);
  return Object.getOwnPropertyNames(value)
    .map((key) => `${key}=${everything((value as Record<string, unknown>)[key], seen)}`)
    .join(' ');
}

describe('RedisStore: what comes from Redis is input', () => {
  it('malformed messages on the state channel are refused with an event; the fleet goes on sharing', async () => {
    const crashes = watchProcess(cleanup);
    const redis = await privateRedis(cleanup);
    const a = await replica(cleanup, redis.url, 'payments', { failureThreshold: 1, timeout: 300 });
    const b = await replica(cleanup, redis.url, 'payments', { failureThreshold: 1, timeout: 300 });
    const publisher = admin(redis.url);
    for (const message of POISON) await publisher.publish('breaker:state', message);
    // The oversized message goes last: once it is refused, every other one has been read.
    await until(() => b.errors.some((error) => /characters/.test(error.message)), 3_000);
    expect(b.errors.length).toBeGreaterThanOrEqual(8);
    expect(crashes).toEqual([]);
    await expect(b.breaker.fire(() => 'ok')).resolves.toBe('ok');
    expect(b.breaker.acquire()).toBeDefined();
    // The huge round was refused, so rounds still move on and trips still reach the fleet.
    await fail(a.breaker);
    await until(() => b.breaker.state === 'open', 1_000);
    await sleep(350);
    await expect(b.breaker.fire(() => 'trial')).resolves.toBe('trial');
    await until(() => a.breaker.state === 'closed', 1_000);
    for (const error of b.errors) expect(error.message.length).toBeLessThan(500);
    expect(b.breakerErrors.length).toBeGreaterThan(0);
  });

  it('a poisoned stored state is ignored with an event; every replica starts and works on local state', async () => {
    const crashes = watchProcess(cleanup);
    const redis = await privateRedis(cleanup);
    const poison = admin(redis.url);
    await poison.hset(
      '{breaker:payments}:state',
      'json',
      '{"name":"payments","state":"exploded","round":7}',
      'round',
      '1e308',
      'state',
      'exploded',
    );
    await poison.hset('{breaker:payments}:counts', 'garbage', 'x', '12:c', 'many');
    await poison.hset('{breaker:payments}:reporters', 'someone', 'yesterday');
    await poison.set('{breaker:payments}:round', '1e308');
    const options = {
      failureThreshold: 3,
      failureRateThreshold: 50,
      minimumCalls: 4,
      window: { type: 'time' as const, duration: 10_000 },
    };
    const a = await replica(cleanup, redis.url, 'payments', options);
    const b = await replica(cleanup, redis.url, 'payments', options);
    await until(() => a.breakerErrors.length > 0, 3_000);
    await expect(a.breaker.fire(() => 'ok')).resolves.toBe('ok');
    await expect(b.breaker.fire(() => 'ok')).resolves.toBe('ok');
    expect(a.breaker.state).toBe('closed');
    // Scripts meet the poisoned keys too: trips are still shared.
    for (let i = 0; i < 3; i++) await fail(a.breaker);
    expect(a.breaker.state).toBe('open');
    await until(() => b.breaker.state === 'open', 1_000);
    expect(crashes).toEqual([]);
  });

  it('errors carry no credentials in any property, and an outage reports each error once', async () => {
    const port = await freePort();
    const redis = await privateRedis(cleanup, ['--requirepass', 'correct-horse'], port);
    const wrong = `redis://:s3cret-battery@127.0.0.1:${redis.port}`;
    const store = new RedisStore({ url: wrong, commandTimeout: 200 });
    const errors: Error[] = [];
    store.on('error', ({ error }) => errors.push(error));
    const breaker = new CircuitBreaker({ name: 'secret', store, failureThreshold: 1 });
    const breakerErrors: unknown[] = [];
    breaker.on('store-error', ({ error }) => breakerErrors.push(error));
    cleanup.add(
      () => store.close(),
      () => breaker.dispose(),
    );
    await until(() => errors.length > 0, 5_000);
    for (let i = 0; i < 100; i++) {
      await breaker.fire(() => 'ok');
      await sleep(10);
    }
    expect(errors.length).toBeGreaterThan(0);
    for (const error of [...errors, ...breakerErrors]) {
      expect(everything(error)).not.toContain('s3cret-battery');
      expect(inspect(error, { depth: 10, showHidden: true })).not.toContain('s3cret-battery');
      expect(JSON.stringify(error)).not.toContain('s3cret-battery');
    }
    const messages = errors.map((error) => error.message);
    expect(new Set(messages).size).toBe(messages.length);
  });
});
