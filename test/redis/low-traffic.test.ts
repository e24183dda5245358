import http from 'node:http';
import express from 'express';
import { Agent, request } from 'undici';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { circuitBreaker } from '@breaker/express';
import { circuitBreaker as outbound } from '@breaker/undici';
import { RedisStore } from '@breaker/redis';
import { Cleanup, fail, privateRedis, replica, sleep } from './fixtures.js';
import { until } from './server.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('RedisStore: a half-open breaker at any traffic level', () => {
  it('one call a second after a 300 ms open time: the first call after it is the trial, and it closes', async () => {
    const redis = await privateRedis(cleanup);
    const { breaker } = await replica(cleanup, redis.url, 'nightly', { failureThreshold: 1, timeout: 300 });
    await breaker.fire(() => 'ok');
    await fail(breaker);
    expect(breaker.state).toBe('open');
    // The permit lease would outlive neither gap: each call must get its trial when it comes.
    await sleep(1_000);
    await expect(breaker.fire(() => 'trial')).resolves.toBe('trial');
    expect(breaker.state).toBe('closed');
    await fail(breaker);
    await sleep(1_200);
    await expect(breaker.fire(() => 'again')).resolves.toBe('again');
    expect(breaker.state).toBe('closed');
  });

  it('one call a minute (a manual clock moves the breaker, real gaps outlast every permit)', async () => {
    const redis = await privateRedis(cleanup);
    const clock = new ManualClock(Date.now());
    const { breaker } = await replica(cleanup, redis.url, 'admin-api', {
      failureThreshold: 1,
      timeout: 30_000,
      halfOpenPermitTimeout: 50,
      clock,
    });
    for (let minute = 0; minute < 3; minute++) {
      await fail(breaker);
      expect(breaker.state).toBe('open');
      clock.advance(60_000);
      await sleep(120);
      await expect(breaker.fire(() => minute)).resolves.toBe(minute);
      expect(breaker.state).toBe('closed');
    }
  });

  it('thousands of calls a second on three replicas: one trial at a time fleet-wide, then closed', async () => {
    const redis = await privateRedis(cleanup);
    // The trial is held for the whole burst: its permit must outlast a loaded machine's stalls, or the
    // trial counts as failed (by design) and the breaker reopens with no call left to try it again.
    const options = { failureThreshold: 1, timeout: 300, halfOpenPermitTimeout: 10_000 };
    const replicas = [
      await replica(cleanup, redis.url, 'busy', options),
      await replica(cleanup, redis.url, 'busy', options),
      await replica(cleanup, redis.url, 'busy', options),
    ];
    await fail(replicas[0]!.breaker);
    await until(() => replicas.every((r) => r.breaker.state === 'open'));
    await sleep(320);
    let admitted = 0;
    let finish = (): void => {};
    const held = new Promise<string>((resolve) => (finish = () => resolve('ok')));
    const trial = () => {
      admitted++;
      return held;
    };
    // While the one trial hangs, every replica takes a burst of calls: none of them may run.
    const calls: Promise<unknown>[] = [];
    const started = Date.now();
    while (Date.now() - started < 150) {
      for (const r of replicas) {
        for (let i = 0; i < 5; i++) calls.push(r.breaker.fire(trial).catch(() => 'rejected'));
      }
      await sleep(1);
    }
    expect(calls.length).toBeGreaterThan(300);
    expect(admitted).toBe(1);
    finish();
    await Promise.all(calls);
    await until(() => replicas.every((r) => r.breaker.state === 'closed'));
  });

  it('an Express route called once a second: the first request after the open time reaches the partner', async () => {
    const redis = await privateRedis(cleanup);
    const store = new RedisStore({ url: redis.url, commandTimeout: 200 });
    const registry = new BreakerRegistry({ defaults: { store, failureThreshold: 1, timeout: 300 } });
    cleanup.add(
      () => store.close(),
      () => registry.dispose(),
    );
    let healthy = false;
    const app = express();
    app.get('/quiet', circuitBreaker({ name: 'quiet', registry }), (_req, res) => {
      res.status(healthy ? 200 : 500).end();
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    cleanup.add(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/quiet`;
    await until(() => store.connected);
    expect((await fetch(url)).status).toBe(500);
    expect((await fetch(url)).status).toBe(503);
    healthy = true;
    await sleep(1_000);
    expect((await fetch(url)).status).toBe(200);
    expect(registry.get('quiet').state).toBe('closed');
  });

  it('an undici client calling once a second: the first request after the open time goes out', async () => {
    const redis = await privateRedis(cleanup);
    const store = new RedisStore({ url: redis.url, commandTimeout: 200 });
    cleanup.add(() => store.close());
    let healthy = false;
    const partner = http.createServer((_req, res) => res.writeHead(healthy ? 200 : 500).end());
    partner.listen(0, '127.0.0.1');
    await new Promise((resolve) => partner.once('listening', resolve));
    cleanup.add(() => new Promise((resolve) => partner.close(resolve)));
    const interceptor = outbound({ store, failureThreshold: 1, timeout: 300 });
    const agent = new Agent().compose(interceptor);
    cleanup.add(() => agent.close());
    const url = `http://127.0.0.1:${(partner.address() as AddressInfo).port}/`;
    await until(() => store.connected);
    const status = async () => {
      try {
        const { statusCode, body } = await request(url, { dispatcher: agent });
        await body.dump();
        return statusCode;
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    expect(await status()).toBe(500);
    expect(await status()).toBe('BREAKER_OPEN');
    healthy = true;
    await sleep(1_000);
    expect(await status()).toBe(200);
    expect(interceptor.registry.list()[0]!.state).toBe('closed');
  });
});
