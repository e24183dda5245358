import { Registry, register as globalRegister } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry, InvalidOptionError, type CircuitBreaker } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { collectMetrics, OVERFLOW_LABEL, type BreakerMetrics } from '@breaker/prometheus';
import { parseExposition, select, valueOf, type Exposition } from './exposition.js';

const running: BreakerMetrics[] = [];
afterEach(() => {
  for (const metrics of running.splice(0)) metrics.stop();
});

function setup(options: { maxSize?: number; maxBreakers?: number; prefix?: string } = {}) {
  const clock = new ManualClock();
  const registry = new BreakerRegistry({
    defaults: { failureThreshold: 2, timeout: 10_000, clock },
    ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }),
  });
  const register = new Registry();
  const metrics = collectMetrics(registry, {
    register,
    ...(options.maxBreakers === undefined ? {} : { maxBreakers: options.maxBreakers }),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
  running.push(metrics);
  const scrape = async (): Promise<Exposition> => parseExposition(await register.metrics());
  return { clock, registry, register, metrics, scrape };
}

const succeed = (breaker: CircuitBreaker, clock?: ManualClock, ms = 0) =>
  breaker.fire(() => {
    clock?.advance(ms);
    return 'ok';
  });
const fail = (breaker: CircuitBreaker) =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});

function stateOf(exposition: Exposition, breaker: string): string[] {
  return select(exposition, 'breaker_state', { breaker })
    .filter((sample) => sample.value === 1)
    .map((sample) => sample.labels.state!);
}

describe('collectMetrics', () => {
  it('exposes each breaker state as 1 for the current state and 0 for the others', async () => {
    const { registry, scrape } = setup();
    registry.get('before'); // held before the collection started
    const exposition0 = await scrape();
    expect(exposition0.types.get('breaker_state')).toBe('gauge');
    expect(select(exposition0, 'breaker_state', { breaker: 'before' })).toHaveLength(5);
    expect(stateOf(exposition0, 'before')).toEqual(['closed']);

    const later = registry.get('later'); // made after: the registry's `add` event
    await fail(later);
    await fail(later);
    const exposition = await scrape();
    expect(stateOf(exposition, 'later')).toEqual(['open']);
    expect(valueOf(exposition, 'breaker_state', { breaker: 'later', state: 'closed' })).toBe(0);
    expect(stateOf(exposition, 'before')).toEqual(['closed']);

    registry.get('before').forceOpen();
    expect(stateOf(await scrape(), 'before')).toEqual(['forced-open']);
    registry.get('before').disable();
    expect(stateOf(await scrape(), 'before')).toEqual(['disabled']);
  });

  it('counts calls by outcome: success, failure, timeout, rejected and ignored', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      defaults: { clock, failureThreshold: 3, callTimeout: 1_000 },
      overrides: { api: { isFailure: (error) => !(error instanceof RangeError) } },
    });
    const register = new Registry();
    running.push(collectMetrics(registry, { register }));
    const api = registry.get('api');

    await succeed(api);
    await succeed(api);
    await api.fire(() => Promise.reject(new RangeError('caller error'))).catch(() => {});
    await fail(api);
    const hung = api.fire(() => new Promise(() => {})).catch((error: unknown) => error);
    clock.advance(1_000);
    expect(await hung).toMatchObject({ code: 'BREAKER_TIMEOUT' });
    await fail(api); // the third failure in a row (the timeout counts) opens it
    await api.fire(() => 'not called').catch(() => {});
    await api.fire(() => 'not called').catch(() => {});

    const exposition = parseExposition(await register.metrics());
    expect(exposition.types.get('breaker_calls_total')).toBe('counter');
    const calls = (outcome: string) =>
      valueOf(exposition, 'breaker_calls_total', { breaker: 'api', outcome });
    expect({
      success: calls('success'),
      failure: calls('failure'),
      timeout: calls('timeout'),
      rejected: calls('rejected'),
      ignored: calls('ignored'),
    }).toEqual({ success: 2, failure: 2, timeout: 1, rejected: 2, ignored: 1 });
    expect(stateOf(exposition, 'api')).toEqual(['open']);
  });

  it('records call durations in seconds in a histogram', async () => {
    const { registry, clock, scrape } = setup();
    const api = registry.get('api');
    await succeed(api, clock, 30);
    await succeed(api, clock, 700);
    await api
      .fire(() => {
        clock.advance(3_000);
        throw new Error('slow failure');
      })
      .catch(() => {});

    const exposition = await scrape();
    expect(exposition.types.get('breaker_call_duration_seconds')).toBe('histogram');
    const bucket = (outcome: string, le: string) =>
      valueOf(exposition, 'breaker_call_duration_seconds_bucket', { breaker: 'api', outcome, le });
    expect(bucket('success', '0.025')).toBe(0);
    expect(bucket('success', '0.05')).toBe(1);
    expect(bucket('success', '0.5')).toBe(1);
    expect(bucket('success', '1')).toBe(2);
    expect(bucket('success', '+Inf')).toBe(2);
    expect(bucket('failure', '2.5')).toBe(0);
    expect(bucket('failure', '5')).toBe(1);
    expect(
      valueOf(exposition, 'breaker_call_duration_seconds_sum', { breaker: 'api', outcome: 'success' }),
    ).toBeCloseTo(0.73, 10);
    expect(
      valueOf(exposition, 'breaker_call_duration_seconds_count', { breaker: 'api', outcome: 'failure' }),
    ).toBe(1);
  });

  it('counts transitions by the state entered, and reports the time until half-open at scrape time', async () => {
    const { registry, clock, scrape } = setup();
    const api = registry.get('api');
    const transitions = (exposition: Exposition, to: string) =>
      valueOf(exposition, 'breaker_transitions_total', { breaker: 'api', to });

    let exposition = await scrape();
    expect(transitions(exposition, 'open')).toBe(0);
    expect(valueOf(exposition, 'breaker_time_to_half_open_seconds', { breaker: 'api' })).toBe(0);

    await fail(api);
    await fail(api);
    clock.advance(4_000);
    exposition = await scrape();
    expect(transitions(exposition, 'open')).toBe(1);
    expect(exposition.types.get('breaker_time_to_half_open_seconds')).toBe('gauge');
    expect(valueOf(exposition, 'breaker_time_to_half_open_seconds', { breaker: 'api' })).toBe(6);

    clock.advance(2_500);
    expect(valueOf(await scrape(), 'breaker_time_to_half_open_seconds', { breaker: 'api' })).toBe(3.5);

    clock.advance(3_500); // the open timer fires: half-open
    await fail(api); // the trial fails: open again
    clock.advance(10_000);
    await succeed(api); // the trial succeeds: closed
    exposition = await scrape();
    expect(transitions(exposition, 'open')).toBe(2);
    expect(transitions(exposition, 'half-open')).toBe(2);
    expect(transitions(exposition, 'closed')).toBe(1);
    expect(valueOf(exposition, 'breaker_time_to_half_open_seconds', { breaker: 'api' })).toBe(0);
    expect(stateOf(exposition, 'api')).toEqual(['closed']);
  });

  it('reports breakers past maxBreakers under one overflow label', async () => {
    const { registry, scrape } = setup({ maxBreakers: 2 });
    const [a, b, c, d] = ['tenant:a', 'tenant:b', 'tenant:c', 'tenant:d'].map((name) => registry.get(name));
    await scrape(); // labels go to breakers in the order they are first scraped or used
    await succeed(a!);
    await succeed(c!);
    await succeed(d!);
    await fail(d!);
    await fail(d!); // d opens
    await fail(b!);

    const exposition = await scrape();
    const breakers = new Set(select(exposition, 'breaker_calls_total').map((s) => s.labels.breaker));
    expect(breakers).toEqual(new Set(['tenant:a', 'tenant:b', OVERFLOW_LABEL]));
    expect(OVERFLOW_LABEL).toBe('__other__');
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: '__other__', outcome: 'success' })).toBe(2);
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: '__other__', outcome: 'failure' })).toBe(2);
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: 'tenant:b', outcome: 'failure' })).toBe(1);
    // Under the overflow label, the state gauge counts breakers.
    expect(valueOf(exposition, 'breaker_state', { breaker: '__other__', state: 'closed' })).toBe(1);
    expect(valueOf(exposition, 'breaker_state', { breaker: '__other__', state: 'open' })).toBe(1);
    expect(valueOf(exposition, 'breaker_time_to_half_open_seconds', { breaker: '__other__' })).toBe(10);
    expect(valueOf(exposition, 'breaker_transitions_total', { breaker: '__other__', to: 'open' })).toBe(1);
    const series = new Set(exposition.samples.map((s) => s.labels.breaker));
    expect(series).toEqual(new Set(['tenant:a', 'tenant:b', '__other__']));
  });

  it('removes the series of evicted breakers and frees their label for new ones', async () => {
    const { registry, scrape } = setup({ maxSize: 2, maxBreakers: 2 });
    await succeed(registry.get('a'));
    await succeed(registry.get('b'));
    let exposition = await scrape();
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: 'a', outcome: 'success' })).toBe(1);

    await succeed(registry.get('c')); // the registry evicts "a", its least recently used breaker
    expect(registry.has('a')).toBe(false);
    exposition = await scrape();
    expect(exposition.samples.filter((s) => s.labels.breaker === 'a')).toEqual([]);
    // "c" took the label "a" gave back, rather than the overflow one.
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: 'c', outcome: 'success' })).toBe(1);
    expect(select(exposition, 'breaker_calls_total', { breaker: OVERFLOW_LABEL })).toEqual([]);

    // delete() emits no event; the next scrape catches up.
    registry.delete('b');
    exposition = await scrape();
    expect(exposition.samples.filter((s) => s.labels.breaker === 'b')).toEqual([]);
    expect(stateOf(exposition, 'c')).toEqual(['closed']);

    // A breaker made again under an evicted name starts from zero.
    await succeed(registry.get('a'));
    exposition = await scrape();
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: 'a', outcome: 'success' })).toBe(1);
  });

  it('counts lookups a full registry sends to its overflow breaker, which has series like any breaker', async () => {
    const { clock, registry, scrape } = setup({ maxSize: 1 });
    registry.get('partner:a', undefined, 'partner').forceOpen();
    for (const key of ['b', 'c', 'b']) await fail(registry.get(`partner:${key}`, undefined, 'partner'));
    let exposition = await scrape();
    const overflow = 'partner:__overflow__';
    expect(exposition.types.get('breaker_overflow_total')).toBe('counter');
    expect(valueOf(exposition, 'breaker_overflow_total', { breaker: overflow })).toBe(3);
    expect(stateOf(exposition, overflow)).toEqual(['open']);
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: overflow, outcome: 'failure' })).toBe(2);
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: overflow, outcome: 'rejected' })).toBe(1);

    // Once it has closed and names get breakers of their own again, it goes, and its series with it.
    clock.advance(10_000);
    await succeed(registry.peek(overflow)!);
    registry.peek('partner:a')!.reset();
    registry.get('partner:d', undefined, 'partner');
    exposition = await scrape();
    expect(registry.has(overflow)).toBe(false);
    expect(select(exposition, 'breaker_overflow_total')).toEqual([]);
    expect(exposition.samples.filter((s) => s.labels.breaker === overflow)).toEqual([]);
  });

  it('stop() removes every listener and the metrics, and a new collection can start', async () => {
    const { registry, register, metrics, scrape } = setup();
    const api = registry.get('api');
    await succeed(api);
    const calls = register.getSingleMetric('breaker_calls_total')!;
    expect((await calls.get()).values.length).toBeGreaterThan(0);

    metrics.stop();
    metrics.stop();
    expect((await register.metrics()).trim()).toBe('');
    expect(register.getMetricsAsArray()).toEqual([]);
    await succeed(api);
    await fail(api);
    await succeed(registry.get('after-stop'));
    // No listener is left to count these: the stopped counter stays empty.
    expect((await calls.get()).values).toEqual([]);

    running.push(collectMetrics(registry, { register }));
    const exposition = await scrape();
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: 'after-stop', outcome: 'success' })).toBe(0);
    expect(stateOf(exposition, 'api')).toEqual(['closed']);
  });

  it('uses the prefix, and prom-client’s global register by default', async () => {
    const registry = new BreakerRegistry();
    const metrics = collectMetrics(registry, { prefix: 'gateway_breaker_' });
    running.push(metrics);
    await succeed(registry.get('api'));
    const exposition = parseExposition(await globalRegister.metrics());
    expect(valueOf(exposition, 'gateway_breaker_calls_total', { breaker: 'api', outcome: 'success' })).toBe(
      1,
    );
    expect(select(exposition, 'gateway_breaker_state', { breaker: 'api', state: 'closed' })).toHaveLength(1);
    expect(select(exposition, 'breaker_state')).toEqual([]);
    metrics.stop();
    expect(globalRegister.getSingleMetric('gateway_breaker_calls_total')).toBeUndefined();
  });

  it('escapes breaker names in label values', async () => {
    const { registry, scrape } = setup();
    const name = 'partner "eu"\\west\nline';
    await succeed(registry.get(name));
    const exposition = await scrape();
    expect(valueOf(exposition, 'breaker_calls_total', { breaker: name, outcome: 'success' })).toBe(1);
  });

  it('checks its options once, naming the option and the value', () => {
    const registry = new BreakerRegistry();
    const register = new Registry();
    const attempt =
      (options: unknown, target: unknown = registry) =>
      () =>
        collectMetrics(target as BreakerRegistry, options as Parameters<typeof collectMetrics>[1]);
    const cases: [unknown, string, RegExp][] = [
      [{ register, prefix: '9lives' }, 'prefix', /"prefix".*received "9lives"/],
      [{ register, prefix: 'a-b' }, 'prefix', /"a-b"/],
      [
        { register, maxBreakers: 0 },
        'maxBreakers',
        /"maxBreakers": expected a whole number of at least 1; received 0/,
      ],
      [{ register, maxBreakers: 1.5 }, 'maxBreakers', /received 1\.5/],
      [{ register, buckets: [1, 0.5] }, 'buckets', /increasing.*\[1,0\.5\]/],
      [{ register, buckets: [] }, 'buckets', /received \[\]/],
      [{ register: {} }, 'register', /prom-client Registry; received an object/],
      [{ register, registers: [register] }, 'registers', /Unknown .* "registers"; did you mean "register"\?/],
      [{ register, maxSize: 5 }, 'maxSize', /did you mean "maxBreakers"/],
    ];
    for (const [options, option, message] of cases) {
      let error: unknown;
      try {
        attempt(options)();
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ option, code: 'BREAKER_INVALID_OPTION' });
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('collectMetrics() from @breaker/prometheus');
    }
    expect(attempt({ register }, { registry })).toThrow(/"registry": expected a BreakerRegistry/);
    // Nothing was registered by the attempts that failed.
    expect(register.getMetricsAsArray()).toEqual([]);

    running.push(collectMetrics(registry, { register }));
    expect(attempt({ register })).toThrow(/"breaker_state" is taken/);
    expect(() => collectMetrics(registry, { register, prefix: 'other_' }).stop()).not.toThrow();
  });
});
