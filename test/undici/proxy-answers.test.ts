import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@breaker/core/testing';
import type { FallbackInfo } from '@breaker/core/http';
import {
  call,
  countsOf,
  expectOpenProblem,
  expectProblem,
  expressGateway,
  koaGateway,
  partner,
  statsOf,
} from './gateway.js';
import { reply, streamBytes } from './partner.js';

const MB = 1024 * 1024;
const SECRET = 'partner stack trace: password=hunter2';

describe('proxy(): partner errors and the open breaker', () => {
  it('hides a partner 500 behind a 502 problem, then opens and answers 503 without calling the partner', async () => {
    const clock = new ManualClock();
    const upstream = await partner(reply(500, SECRET));
    const gateway = await expressGateway(upstream, {
      name: 'partner-api',
      failureThreshold: 3,
      timeout: 10_000,
      clock,
    });
    const breaker = 'partner-api';
    for (let i = 0; i < 3; i++) {
      const res = await call(gateway.port, '/partner/orders');
      expectProblem(res, 502);
      expect(res.body).not.toContain('hunter2');
      expect(res.body).not.toContain('stack trace');
    }
    expect(statsOf(gateway.handler).state).toBe('open');

    const rejected = await call(gateway.port, '/partner/orders');
    const body = expectOpenProblem(rejected, breaker);
    expect(rejected.headers['retry-after']).toBe('10');
    expect(body.retryAfter).toBe(10);
    expect(rejected.body).not.toContain('hunter2');
    expect(upstream.seen).toHaveLength(3);
    expect(countsOf(gateway.handler)).toMatchObject({ failures: 3, rejections: 1 });

    clock.advance(10_000);
    upstream.route = reply(200, 'back again');
    const recovered = await call(gateway.port, '/partner/orders');
    expect(recovered.status).toBe(200);
    expect(recovered.body).toBe('back again');
  });

  it('passes a partner 4xx through as it is, and does not count it', async () => {
    const upstream = await partner(
      reply(404, '{"error":"no such order"}', { 'content-type': 'application/json' }),
    );
    const gateway = await expressGateway(upstream, { failureThreshold: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await call(gateway.port, '/partner/orders/7');
      expect(res.status).toBe(404);
      expect(res.body).toBe('{"error":"no such order"}');
    }
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 3, failures: 0 });
  });

  it('answers through the fallback while open, and with the 503 problem when the fallback throws', async () => {
    const upstream = await partner(reply(500, SECRET));
    const infos: FallbackInfo[] = [];
    let throwing = false;
    const gateway = await expressGateway(upstream, {
      failureThreshold: 2,
      timeout: 60_000,
      fallback: (_req, res, info) => {
        infos.push(info);
        if (throwing) throw new Error('fallback broke');
        res.writeHead(200, { 'content-type': 'application/json', 'x-fallback': 'yes' });
        res.end(JSON.stringify({ cached: true }));
      },
    });
    await call(gateway.port, '/partner/x');
    await call(gateway.port, '/partner/x');
    const fallback = await call(gateway.port, '/partner/x');
    expect(fallback.status).toBe(200);
    expect(fallback.headers['x-fallback']).toBe('yes');
    expect(JSON.parse(fallback.body)).toEqual({ cached: true });
    expect(infos).toHaveLength(1);
    expect(infos[0]).toMatchObject({ reason: 'open', breaker: upstream.origin });
    expect(infos[0]!.retryAfterMs).toBeGreaterThan(50_000);

    throwing = true;
    expectOpenProblem(await call(gateway.port, '/partner/x'), 'upstream');
    expect(infos).toHaveLength(2);
    expect(upstream.seen).toHaveLength(2);
  });

  it('opens for the time a partner 503 asks for in Retry-After, and passes Retry-After on', async () => {
    const clock = new ManualClock();
    const upstream = await partner(reply(503, SECRET, { 'retry-after': '30' }));
    const gateway = await expressGateway(upstream, { failureThreshold: 5, timeout: 5_000, clock });
    const first = await call(gateway.port, '/partner/x');
    expectProblem(first, 502);
    expect(first.headers['retry-after']).toBe('30');
    expect(first.body).not.toContain('hunter2');
    const stats = statsOf(gateway.handler);
    expect(stats.state).toBe('open');
    expect(stats.retryAfterMs).toBe(30_000);

    const rejected = await call(gateway.port, '/partner/x');
    expectOpenProblem(rejected, 'upstream');
    expect(rejected.headers['retry-after']).toBe('30');
    expect(upstream.seen).toHaveLength(1);

    clock.advance(29_000);
    expect((await call(gateway.port, '/partner/x')).headers['retry-after']).toBe('1');
    expect(upstream.seen).toHaveLength(1);
  });

  it('answers 502 when the partner port refuses connections, and counts a failure', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gateway = await expressGateway(`http://127.0.0.1:${port}/api`);
    const res = await call(gateway.port, '/partner/x');
    const body = expectProblem(res, 502);
    expect(body.title).toBe('Upstream unavailable');
    expect(res.body).not.toContain('ECONNREFUSED');
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 1 });
  });
});

describe('koaProxy()', () => {
  it('streams a GET through and answers 503 once open', async () => {
    const upstream = await partner(streamBytes(1 * MB, 16 * 1024));
    const gateway = await koaGateway(upstream, { name: 'koa-partner', failureThreshold: 2, timeout: 10_000 });
    const ok = await call(gateway.port, '/files/big?v=1', { headers: { host: 'bff.example' } });
    expect(ok.status).toBe(200);
    expect(ok.body.length).toBe(1 * MB);
    expect(ok.headers['content-type']).toBe('application/octet-stream');
    expect(upstream.seen[0]).toMatchObject({ url: '/api/files/big?v=1' });
    expect(upstream.seen[0]!.headers['x-forwarded-host']).toBe('bff.example');

    upstream.route = reply(500, SECRET);
    for (let i = 0; i < 2; i++) {
      const failed = await call(gateway.port, '/files/big');
      expectProblem(failed, 502);
      expect(failed.body).not.toContain('hunter2');
    }
    const rejected = await call(gateway.port, '/files/big');
    expectOpenProblem(rejected, 'koa-partner');
    expect(rejected.headers['retry-after']).toBe('10');
    expect(upstream.seen).toHaveLength(3);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 2, rejections: 1 });
  });
});
