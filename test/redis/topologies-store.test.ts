import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '@breaker/core';
import { RedisStore, type RedisStoreOptions } from '@breaker/redis';
import { Cleanup, fail, sleep } from './fixtures.js';
import { until } from './server.js';
import { startCluster, startSentinel } from './topologies.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Two replicas on their own stores, each with the breakers named. */
async function fleet(where: Partial<RedisStoreOptions>, names: string[]) {
  const make = async () => {
    const store = new RedisStore({ commandTimeout: 300, reconcileInterval: 1_000, ...where });
    let readies = 0;
    store.on('ready', () => readies++);
    store.on('error', () => {});
    const breakers = new Map(
      names.map((name) => [name, new CircuitBreaker({ name, store, failureThreshold: 1, timeout: 60_000 })]),
    );
    cleanup.add(
      () => store.close(),
      () => breakers.forEach((breaker) => breaker.dispose()),
    );
    await until(() => store.connected && readies > 0, 15_000);
    return { store, breakers, get: (name: string) => breakers.get(name)! };
  };
  return [await make(), await make()] as const;
}

/** Fires calls on every breaker every few milliseconds until stopped; keeps the slowest and any failure. */
function steadyTraffic(breakers: CircuitBreaker[]) {
  let running = true;
  let slowest = 0;
  let calls = 0;
  const failures: unknown[] = [];
  const loop = (async () => {
    while (running) {
      for (const breaker of breakers) {
        const started = performance.now();
        try {
          await breaker.fire(() => 'ok');
        } catch (error) {
          failures.push(error);
        }
        calls++;
        slowest = Math.max(slowest, performance.now() - started);
      }
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { slowest, calls, failures };
    },
  };
}

/** After a failover the client finds the new master on its own; this waits until a scratch trip crosses again. */
async function sharingAgain(
  a: { get(name: string): CircuitBreaker },
  b: { get(name: string): CircuitBreaker },
  scratch: string[],
) {
  for (const name of scratch) {
    await fail(a.get(name));
    try {
      await until(() => b.get(name).state === 'open', 1_500);
      return;
    } catch {
      // The store publishes it again shortly; a later scratch breaker proves the path is back.
    }
  }
  throw new Error('trips never crossed between the replicas after the failover');
}

/**
 * Steady calls on `orders` from both replicas through a failover: none fails or waits 50 ms, trips cross
 * again once the client follows the new master, and then trips reach the other replica in a median under 100 ms.
 */
async function survivesFailover(
  a: { get(name: string): CircuitBreaker },
  b: { get(name: string): CircuitBreaker },
  failover: () => Promise<void>,
) {
  const traffic = steadyTraffic([a.get('orders'), b.get('orders')]);
  await failover();
  await sharingAgain(a, b, scratch);
  const { slowest, calls, failures } = await traffic.stop();
  expect(failures).toEqual([]);
  expect(calls).toBeGreaterThan(100);
  expect(slowest).toBeLessThan(50);

  // While the Cluster settles a subscriber may be moved once more: the median trip is what must be fast.
  const delays: number[] = [];
  for (const name of ['orders', ...after]) {
    await fail(a.get(name));
    delays.push(await until(() => b.get(name).state === 'open', 1_000));
  }
  delays.sort((x, y) => x - y);
  expect(delays[1]).toBeLessThan(100);
}

const after = ['after-1', 'after-2'];

const scratch = Array.from({ length: 12 }, (_, i) => `scratch-${i}`);

describe('RedisStore on a Redis Cluster (3 masters, 3 replicas)', () => {
  it('shares trips, keeps calls going while the master of a breaker dies, and shares again after failover', async () => {
    const cluster = await startCluster();
    cleanup.add(() => cluster.stop());
    const [a, b] = await fleet({ cluster: cluster.nodes.map(({ host, port }) => `${host}:${port}`) }, [
      'payments',
      'orders',
      ...after,
      ...scratch,
    ]);
    await fail(a.get('payments'));
    expect(await until(() => b.get('payments').state === 'open', 1_000)).toBeLessThan(100);

    await survivesFailover(a, b, async () => {
      const killed = await cluster.killMaster('{breaker:orders}:state');
      await cluster.waitForFailover('{breaker:orders}:state', 30_000);
      expect((await cluster.masterFor('{breaker:orders}:state')).port).not.toBe(killed);
    });
  }, 90_000);

  it('takes an ioredis Cluster client the application already has', async () => {
    const cluster = await startCluster();
    cleanup.add(() => cluster.stop());
    const { Cluster } = await import('ioredis');
    const client = new Cluster(cluster.nodes);
    client.on('error', () => {});
    cleanup.add(() => client.disconnect());
    const [a, b] = await fleet({ client }, ['search']);
    await fail(a.get('search'));
    expect(await until(() => b.get('search').state === 'open', 1_000)).toBeLessThan(100);
  }, 60_000);
});

describe('RedisStore through Redis Sentinel (1 master, 1 replica, 3 sentinels)', () => {
  it('shares trips, keeps calls going while the master dies, and shares again after failover', async () => {
    const sentinel = await startSentinel();
    cleanup.add(() => sentinel.stop());
    const [a, b] = await fleet({ sentinel: { sentinels: sentinel.sentinels, name: sentinel.name } }, [
      'payments',
      'orders',
      ...after,
      ...scratch,
    ]);
    await fail(a.get('payments'));
    expect(await until(() => b.get('payments').state === 'open', 1_000)).toBeLessThan(100);

    await survivesFailover(a, b, async () => {
      await sentinel.killMaster();
      await sentinel.waitForFailover(30_000);
    });
  }, 90_000);
});
