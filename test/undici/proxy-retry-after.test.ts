import { describe, expect, it } from 'vitest';
import { ManualClock } from '@breaker/core/testing';
import { call, expectOpenProblem, expectProblem, expressGateway, koaGateway, partner } from './gateway.js';
import { reply } from './partner.js';

const HUGE = '999999999999999999999999999999';

describe.each([
  ['express', expressGateway],
  ['koa', koaGateway],
] as const)('proxy() in %s: Retry-After', (_name, gatewayFor) => {
  it('caps a partner 503’s huge Retry-After at maxTimeout in whole seconds, on the 502 and the 503 after it', async () => {
    const upstream = await partner(reply(503, 'busy', { 'retry-after': HUGE }));
    const gateway = await gatewayFor(upstream, { timeout: 5_000, maxTimeout: 60_000 });
    const failed = await call(gateway.port, `${gateway.prefix}/x`);
    expectProblem(failed, 502);
    expect(failed.headers['retry-after']).toBe('60');

    const rejected = await call(gateway.port, `${gateway.prefix}/x`);
    expect(expectOpenProblem(rejected, 'upstream').retryAfter).toBe(60);
    expect(rejected.headers['retry-after']).toBe('60');
  });

  it('caps at the default maxTimeout, rounded up to a whole second', async () => {
    const upstream = await partner(reply(503, 'busy', { 'retry-after': HUGE }));
    const gateway = await gatewayFor(upstream, { timeout: 1_000, maxTimeout: 90_500 });
    expect((await call(gateway.port, `${gateway.prefix}/x`)).headers['retry-after']).toBe('91');
    const byDefault = await gatewayFor(upstream);
    expect((await call(byDefault.port, `${byDefault.prefix}/x`)).headers['retry-after']).toBe('300');
  });

  it.each([
    ['a huge number', HUGE, '300'],
    ['a valid number', '120', '120'],
    ['a number with leading zeros', '007', '7'],
    ['a negative number', '-5', undefined],
    ['a fraction', '1.5', undefined],
    ['an exponent', '1e+30', undefined],
    ['garbage', 'soon, please', undefined],
    ['an empty value', '', undefined],
  ])('passes %s (%j) in a partner 429’s Retry-After on as %j', async (_what, given, sent) => {
    const upstream = await partner(reply(429, 'slow down', { 'retry-after': given }));
    const gateway = await gatewayFor(upstream);
    const res = await call(gateway.port, `${gateway.prefix}/x`);
    expect(res.status).toBe(429);
    expect(res.body).toBe('slow down');
    expect(res.headers['retry-after']).toBe(sent);
  });

  it('drops an invalid Retry-After from the 502 for a partner 5xx', async () => {
    for (const given of ['-1', '2.5', 'later']) {
      const upstream = await partner(reply(500, 'failure', { 'retry-after': given }));
      const gateway = await gatewayFor(upstream);
      const res = await call(gateway.port, `${gateway.prefix}/x`);
      expectProblem(res, 502);
      expect(res.headers['retry-after'], given).toBeUndefined();
    }
  });

  it('turns a partner’s HTTP-date Retry-After into the seconds until then, on the breaker’s clock', async () => {
    const clock = new ManualClock();
    const inTwoMinutes = new Date(clock.now() + 120_000).toUTCString();
    const upstream = await partner(reply(429, 'slow down', { 'retry-after': inTwoMinutes }));
    const gateway = await gatewayFor(upstream, { clock });
    expect((await call(gateway.port, `${gateway.prefix}/x`)).headers['retry-after']).toBe('120');

    upstream.route = reply(503, 'busy', { 'retry-after': new Date(clock.now() + 45_000).toUTCString() });
    const other = await gatewayFor(upstream, { clock });
    const failed = await call(other.port, `${other.prefix}/x`);
    expectProblem(failed, 502);
    expect(failed.headers['retry-after']).toBe('45');
  });
});
