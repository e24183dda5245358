import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { FRAMEWORKS, startApp, type Framework, type TestApp } from './apps.js';

const running: TestApp[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.close()));
});

const tenant = (source: { url?: string }) =>
  new URL(source.url ?? '/', 'http://x').searchParams.get('t') ?? 'none';

/**
 * An app with one breaker per tenant from a registry of at most five, where tenants `attacker0` to
 * `attacker4` have opened theirs. A path with `ok` in it answers 200, any other 500.
 */
async function fullRegistry(framework: Framework) {
  const clock = new ManualClock();
  const registry = new BreakerRegistry({ maxSize: 5 });
  const refused: string[] = [];
  registry.on('overflow', ({ name }) => refused.push(name));
  let largest = 0;
  registry.on('add', () => (largest = Math.max(largest, registry.size)));
  const app = await startApp({
    framework,
    breaker: { name: 'tenant', failureThreshold: 2, timeout: 10_000, clock, registry, key: tenant },
    behaviour: (path) => ({ kind: 'status', status: path.includes('ok') ? 200 : 500 }),
  });
  running.push(app);
  for (let i = 0; i < 5; i++) {
    for (let n = 0; n < 2; n++) await request(app.url).get(`/r?t=attacker${i}`);
    expect(registry.peek(`tenant:attacker${i}`)!.state).toBe('open');
  }
  return { app, clock, registry, refused, largest: () => largest };
}

describe.each(FRAMEWORKS)('%s: keyed breakers when the registry is full of open ones', (framework) => {
  it("a new tenant's failures still trip a breaker and later requests fail fast, within the bound", async () => {
    const { app, registry, refused, largest } = await fullRegistry(framework);
    const before = app.calls;
    let res: request.Response | undefined;
    for (let i = 0; i < 6; i++) res = await request(app.url).get('/r?t=victim');
    expect(app.calls - before).toBe(2);
    expect(res!.status).toBe(503);
    expect(res!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res!.text)).toMatchObject({ status: 503, breaker: 'tenant:__overflow__' });
    expect(refused).toEqual(Array(6).fill('tenant:victim'));
    expect(registry.size).toBeLessThanOrEqual(6);
    expect(largest()).toBeLessThanOrEqual(6);
  });

  it('gives new tenants breakers of their own again once a held breaker recovers', async () => {
    const { app, clock, registry } = await fullRegistry(framework);
    expect((await request(app.url).get('/ok?t=early')).status).toBe(200);
    expect(registry.has('tenant:early')).toBe(false);
    expect(registry.peek('tenant:__overflow__')!.stats().counts.successes).toBe(1);
    clock.advance(10_000);
    expect((await request(app.url).get('/ok?t=attacker2')).status).toBe(200);
    expect(registry.peek('tenant:attacker2')!.state).toBe('closed');
    expect((await request(app.url).get('/ok?t=late')).status).toBe(200);
    expect(registry.peek('tenant:late')!.state).toBe('closed');
    expect(registry.has('tenant:__overflow__')).toBe(false);
    expect(registry.size).toBe(5);
  });
});
