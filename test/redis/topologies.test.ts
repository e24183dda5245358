import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from './server.js';
import { startCluster, startSentinel } from './topologies.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** One command on one node, over a connection closed straight after: the node may be killed next. */
async function direct(port: number, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
  try {
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

describe('Redis Cluster harness', () => {
  it('a Cluster client keeps reading and writing a key after its master is killed and replaced', async () => {
    const cluster = await startCluster();
    cleanup.push(() => cluster.stop());
    const client = new Cluster(cluster.nodes);
    client.on('error', () => {});
    cleanup.push(() => client.disconnect());

    await client.set('orders', 'v1');
    expect(await client.get('orders')).toBe('v1');
    const before = await cluster.masterFor('orders');
    // Replication is asynchronous: only a write the replica has acknowledged must survive the kill.
    expect(await direct(before.port, 'WAIT', 1, 2_000)).toBe(1);

    const killed = await cluster.killMaster('orders');
    expect(killed).toBe(before.port);
    await cluster.waitForFailover('orders', 20_000);
    expect((await cluster.masterFor('orders')).port).not.toBe(killed);

    expect(await client.get('orders')).toBe('v1');
    await client.set('orders', 'v2');
    expect(await client.get('orders')).toBe('v2');
  }, 40_000);

  it('a message published on any node reaches a subscriber on a Cluster client', async () => {
    const cluster = await startCluster();
    cleanup.push(() => cluster.stop());
    const subscriber = new Cluster(cluster.nodes);
    subscriber.on('error', () => {});
    cleanup.push(() => subscriber.disconnect());
    const received: string[] = [];
    subscriber.on('message', (channel: string, message: string) => received.push(`${channel} ${message}`));
    await subscriber.subscribe('breaker:state');

    for (const node of cluster.nodes)
      await direct(node.port, 'PUBLISH', 'breaker:state', `from ${node.port}`);

    await until(() => received.length === cluster.nodes.length, 5_000);
    expect(received.sort()).toEqual(cluster.nodes.map((node) => `breaker:state from ${node.port}`).sort());
  }, 40_000);
});

describe('Redis Sentinel harness', () => {
  it('a Sentinel client keeps reading and writing after the master is killed and a replica promoted', async () => {
    const sentinel = await startSentinel();
    cleanup.push(() => sentinel.stop());
    const client = new Redis({ sentinels: sentinel.sentinels, name: sentinel.name });
    client.on('error', () => {});
    cleanup.push(() => client.disconnect());

    await client.set('orders', 'v1');
    expect(await client.get('orders')).toBe('v1');
    expect(await client.call('WAIT', 1, 2_000)).toBe(1);
    const before = sentinel.masterPort;

    await sentinel.killMaster();
    const promoted = await sentinel.waitForFailover(25_000);
    expect(promoted).not.toBe(before);
    expect(sentinel.masterPort).toBe(promoted);

    expect(await client.get('orders')).toBe('v1');
    await client.set('orders', 'v2');
    expect(await client.get('orders')).toBe('v2');
  }, 40_000);
});
