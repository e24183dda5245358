import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BreakerOpenError, CircuitBreaker, type BreakerOptions } from '@breaker/core';
import { RedisStore } from '@breaker/redis';
import { startRedis, until, type TestRedis } from './server.js';

let redis: TestRedis;
let admin: Redis;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
}, 20_000);

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let names = 0;
function uniqueName() {
  return `payments-${process.pid}-${++names}`;
}

async function replica(
  name: string,
  options: BreakerOptions = {},
  storeOptions: Partial<ConstructorParameters<typeof RedisStore>[0]> = {},
) {
  const store = new RedisStore({ url: redis.url, ...storeOptions });
  const breaker = new CircuitBreaker({ name, store, failureThreshold: 2, timeout: 1_000, ...options });
  cleanup.push(
    () => store.close(),
    () => breaker.dispose(),
  );
  await until(() => store.connected);
  return { store, breaker };
}

const fail = (breaker: CircuitBreaker) =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch((e: unknown) => e);

describe('RedisStore', () => {
  it('when one replica trips, the others reject within 100 ms', async () => {
    const name = uniqueName();
    const a = await replica(name);
    const b = await replica(name);
    const c = await replica(name);
    await fail(a.breaker);
    await fail(a.breaker);
    expect(a.breaker.state).toBe('open');
    const took = await until(() => b.breaker.state === 'open' && c.breaker.state === 'open');
    expect(took).toBeLessThan(100);
    expect(await b.breaker.fire(() => 'x').catch((e: unknown) => e)).toBeInstanceOf(BreakerOpenError);
    // The peers keep the open time the tripping replica chose.
    expect(Math.abs(b.breaker.stats().retryAfterMs - a.breaker.stats().retryAfterMs)).toBeLessThan(50);
  });

  it('counts from every replica feed one shared window that opens the fleet', async () => {
    const name = uniqueName();
    const options: BreakerOptions = {
      failureThreshold: 1_000,
      failureRateThreshold: 50,
      minimumCalls: 20,
      window: { type: 'time', duration: 10_000, buckets: 10 },
    };
    const a = await replica(name, options);
    const b = await replica(name, options);
    // Each replica alone stays below minimumCalls; together they reach it.
    for (let i = 0; i < 12; i++) await fail(a.breaker);
    a.breaker.dispose();
    expect(a.breaker.state).toBe('closed');
    for (let i = 0; i < 12; i++) await fail(b.breaker);
    expect(b.breaker.state).toBe('closed');
    // Counts go out in batches: every 10 000 calls, or about every quarter second while calls flow.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 4; i++) await fail(b.breaker);
    await until(() => b.breaker.state === 'open', 10_000);
    expect(b.breaker.state).toBe('open');
    expect(await admin.hget(`{breaker:${name}}:state`, 'state')).toBe('open');
  });

  it('limits half-open trial calls across the fleet', async () => {
    const name = uniqueName();
    const a = await replica(name, { timeout: 200 });
    const b = await replica(name, { timeout: 200 });
    await fail(a.breaker);
    await fail(a.breaker);
    await until(() => b.breaker.state === 'open', 10_000);
    await until(() => a.breaker.state === 'half-open' && b.breaker.state === 'half-open', 10_000);
    // Let both replicas try to lease the single fleet permit.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const hang = () => new Promise<never>(() => {});
    const admitted: string[] = [];
    for (let i = 0; i < 10; i++) {
      for (const [label, r] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const result = r.breaker.fire(() => {
          admitted.push(label);
          return hang();
        });
        result.catch(() => {});
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(admitted).toHaveLength(1);
  });

  it('a replica that dies holding the fleet permit does not wedge the fleet', async () => {
    const name = uniqueName();
    const dying = spawnReplica('hold-probe', name);
    await dying.line('holding');
    const b = await replica(name, { failureThreshold: 1, timeout: 300, halfOpenPermitTimeout: 800 });
    await until(() => b.breaker.state === 'half-open', 10_000);
    dying.child.kill('SIGKILL');
    // The dead replica's permit is still taken: trial calls here are turned away until it expires.
    await expect(b.breaker.fire(() => 'probe')).rejects.toMatchObject({ state: 'half-open' });
    let result: unknown;
    await until(() => {
      void b.breaker
        .fire(() => 'probe')
        .then((value) => (result = value))
        .catch(() => {});
      return result === 'probe';
    }, 3_000);
    expect(b.breaker.state).toBe('closed');
  });

  it('a trip reaches replicas in other processes within 100 ms', async () => {
    const name = uniqueName();
    const watchers = [spawnReplica('watch', name), spawnReplica('watch', name)];
    await Promise.all(watchers.map((w) => w.line('ready')));
    const a = await replica(name, { failureThreshold: 1 });
    const tripped = Date.now();
    await fail(a.breaker);
    const seen = await Promise.all(watchers.map((w) => w.line(/^open \d+$/)));
    for (const line of seen) expect(Number(line.split(' ')[1]) - tripped).toBeLessThan(100);
  });
});

function spawnReplica(mode: 'watch' | 'hold-probe', name: string) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./replica.mjs', import.meta.url)), mode, redis.url, name],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  cleanup.push(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    lines.push(...parts);
    waiters.splice(0).forEach((wake) => wake());
  });
  return {
    child,
    async line(match: string | RegExp): Promise<string> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const found = lines.find((line) => (typeof match === 'string' ? line === match : match.test(line)));
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`replica never printed ${String(match)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}
