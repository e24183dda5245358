import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '@breaker/core/testing';
import {
  call,
  expectOpenProblem,
  expectProblem,
  expressGateway,
  koaGateway,
  partner,
  until,
  type Reply,
} from './gateway.js';
import { reply, type Partner } from './partner.js';

/** Nothing of the partner's address, in any form, reaches the client. */
function expectNoAddress(res: Reply, upstream: { origin: string; port: number }): void {
  const seen = `${res.body} ${JSON.stringify(res.headers)}`;
  expect(seen).not.toContain(upstream.origin);
  expect(seen).not.toContain('127.0.0.1');
  expect(seen).not.toContain(String(upstream.port));
}

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A partner that keeps each request waiting until `release()`. */
async function hangingPartner(): Promise<Partner & { release(): void }> {
  const waiting: (() => void)[] = [];
  const upstream = await partner((_req, res) => {
    waiting.push(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('late'));
  });
  return Object.assign(upstream, { release: () => waiting.splice(0).forEach((answer) => answer()) });
}

describe.each([
  ['express', expressGateway],
  ['koa', koaGateway],
] as const)('proxy() in %s: the breaker as clients see it', (_name, gatewayFor) => {
  it('names the bulkhead and its breaker by the given name in the bulkhead-full 503', async () => {
    const upstream = await hangingPartner();
    const gateway = await gatewayFor(upstream, { name: 'partner', bulkhead: { maxConcurrent: 1 } });
    const first = call(gateway.port, `${gateway.prefix}/slow`);
    expect(await until(() => upstream.seen.length === 1)).toBe(true);

    const rejected = await call(gateway.port, `${gateway.prefix}/x`);
    const body = expectOpenProblem(rejected, 'partner');
    expect(body).toMatchObject({ type: 'urn:breaker:problem:bulkhead-full', bulkhead: 'partner' });
    expectNoAddress(rejected, upstream);

    upstream.release();
    expect((await first).status).toBe(200);
    expect(gateway.handler.interceptor.bulkheadOf(`partner:${upstream.origin}`)).toBeDefined();
  });

  it('names the breaker by the given name in the 502 and the open-breaker 503, and keeps the origin in the registry', async () => {
    const upstream = await partner(reply(500, 'partner failure'));
    const gateway = await gatewayFor(upstream, { name: 'partner', failureThreshold: 1 });
    const failed = await call(gateway.port, `${gateway.prefix}/x`);
    expect(expectProblem(failed, 502).breaker).toBe('partner');
    expectNoAddress(failed, upstream);

    const rejected = await call(gateway.port, `${gateway.prefix}/x`);
    expect(expectOpenProblem(rejected, 'partner').type).toBe('urn:breaker:problem:circuit-open');
    expectNoAddress(rejected, upstream);
    expect(gateway.handler.interceptor.registry.list().map((breaker) => breaker.name)).toEqual([
      `partner:${upstream.origin}`,
    ]);
  });

  it('calls the breaker `upstream` when it was given no name', async () => {
    const upstream = await partner(reply(500, 'partner failure'));
    const gateway = await gatewayFor(upstream, { failureThreshold: 1 });
    expect(expectProblem(await call(gateway.port, `${gateway.prefix}/x`), 502).breaker).toBe('upstream');
    const rejected = await call(gateway.port, `${gateway.prefix}/x`);
    expectOpenProblem(rejected, 'upstream');
    expectNoAddress(rejected, upstream);
  });

  it('shows no address in the 502 for a partner it cannot reach', async () => {
    const port = await closedPort();
    const gateway = await gatewayFor(`http://127.0.0.1:${port}/api`, { name: 'partner' });
    const res = await call(gateway.port, `${gateway.prefix}/x`);
    expect(expectProblem(res, 502).breaker).toBe('partner');
    expectNoAddress(res, { origin: `http://127.0.0.1:${port}`, port });
  });

  it('shows no address in the 504 for a partner that misses callTimeout', async () => {
    const clock = new ManualClock();
    const upstream = await hangingPartner();
    const gateway = await gatewayFor(upstream, { name: 'partner', callTimeout: 1_000, clock });
    const pending = call(gateway.port, `${gateway.prefix}/x`);
    expect(await until(() => upstream.seen.length === 1)).toBe(true);
    clock.advance(1_000);
    const res = await pending;
    const body = expectProblem(res, 504);
    expect(body.breaker).toBe('partner');
    expect(body.detail).toContain('1000 ms');
    expectNoAddress(res, upstream);
    upstream.release();
  });
});
