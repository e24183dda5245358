import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import express from 'express';
import Koa from 'koa';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BreakerRegistry,
  CircuitBreaker,
  InvalidOptionError,
  bulkhead,
  compose,
  fallback,
} from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { circuitBreaker } from '@breaker/express';
import { circuitBreaker as koaBreaker } from '@breaker/koa';
import { circuitBreaker as undiciBreaker } from '@breaker/undici';
import { instrument, type Instrumentation, type StateChangeRecord } from '@breaker/opentelemetry';

/** The meter is versioned as the package is. */
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../packages/opentelemetry/package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** A reader that collects when asked, as an exporter's would on its interval. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}

  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await this.collect();
    expect(errors).toEqual([]);
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      expect(scope.scope.name).toBe('@breaker/opentelemetry');
      expect(scope.scope.version).toBe(PACKAGE_VERSION);
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    }
    return byName;
  }
}

/** The value of the point of `metric` whose attributes include `where`. */
function point(
  metric: MetricData | undefined,
  where: Record<string, string>,
): DataPoint<unknown> | undefined {
  return (metric?.dataPoints as DataPoint<unknown>[] | undefined)?.find((p) =>
    Object.entries(where).every(([key, value]) => p.attributes[key] === value),
  );
}
const valueOf = (metric: MetricData | undefined, where: Record<string, string>): unknown =>
  point(metric, where)?.value;

const running: (Instrumentation | { stop(): void })[] = [];
afterEach(() => {
  for (const item of running.splice(0)) item.stop();
});

function setUp(options: Parameters<typeof instrument>[1] = {}) {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return { reader, meterProvider, options: { meterProvider, ...options } };
}

const fail = (breaker: CircuitBreaker): Promise<unknown> =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch((error: unknown) => error);

describe('@breaker/opentelemetry: metrics', () => {
  it('reports state, calls by outcome, durations, transitions and open time of every breaker of a registry', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      defaults: {
        clock,
        failureThreshold: 2,
        timeout: 30_000,
        callTimeout: 50,
        isFailure: (e) => !(e instanceof RangeError),
      },
    });
    const { reader, options } = setUp({ durations: true });
    running.push(instrument(registry, options));
    const payments = registry.get('payments');
    await payments.fire(() => 'ok');
    await payments.fire(() => 'ok');
    await payments.fire(() => Promise.reject(new RangeError('caller'))).catch(() => {});
    const hung = payments.fire(() => new Promise(() => {}));
    clock.advance(60);
    await hung.catch(() => {});
    await fail(payments);
    expect(payments.state).toBe('open');
    await payments.fire(() => 'never').catch(() => {});
    registry.get('search');

    const metrics = await reader.metrics();
    const status = metrics.get('breaker.status');
    expect(status?.descriptor.unit).toBe('{breaker}');
    expect(valueOf(status, { 'breaker.name': 'payments', 'breaker.state': 'open' })).toBe(1);
    expect(valueOf(status, { 'breaker.name': 'payments', 'breaker.state': 'closed' })).toBe(0);
    expect(valueOf(status, { 'breaker.name': 'search', 'breaker.state': 'closed' })).toBe(1);

    const calls = metrics.get('breaker.calls');
    expect(calls?.descriptor.unit).toBe('{call}');
    const of = (outcome: string) =>
      valueOf(calls, { 'breaker.name': 'payments', 'breaker.outcome': outcome });
    expect([of('success'), of('failure'), of('timeout'), of('rejected'), of('ignored')]).toEqual([
      2, 1, 1, 1, 1,
    ]);

    const duration = metrics.get('breaker.call.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const timed = point(duration, { 'breaker.name': 'payments', 'breaker.outcome': 'timeout' })
      ?.value as Histogram;
    expect(timed.count).toBe(1);
    expect(timed.sum).toBeCloseTo(0.05, 5);
    expect(timed.buckets.boundaries).toContain(0.075);
    expect(
      (point(duration, { 'breaker.name': 'payments', 'breaker.outcome': 'success' })?.value as Histogram)
        .count,
    ).toBe(2);

    const transitions = metrics.get('breaker.transitions');
    expect(
      valueOf(transitions, {
        'breaker.name': 'payments',
        'breaker.transition.from': 'closed',
        'breaker.transition.to': 'open',
        'breaker.transition.reason': 'consecutive-failures',
      }),
    ).toBe(1);
    const remaining = metrics.get('breaker.open.remaining');
    expect(remaining?.descriptor.unit).toBe('s');
    expect(valueOf(remaining, { 'breaker.name': 'payments' })).toBe(30);
    expect(valueOf(remaining, { 'breaker.name': 'search' })).toBe(0);
    clock.advance(10_000);
    expect(
      valueOf((await reader.metrics()).get('breaker.open.remaining'), { 'breaker.name': 'payments' }),
    ).toBe(20);
  });

  it('caps breaker.name at maxBreakers for good; a breaker that leaves is reported once in no state, and no counter counts down', async () => {
    const registry = new BreakerRegistry({ maxSize: 3, defaults: { failureThreshold: 1 } });
    const { reader, options } = setUp({ maxBreakers: 1 });
    running.push(instrument(registry, options));
    for (const name of ['a', 'b', 'c']) await registry.get(name).fire(() => 'ok');
    await fail(registry.get('a'));
    let metrics = await reader.metrics();
    expect(valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'a', 'breaker.outcome': 'success' })).toBe(
      1,
    );
    expect(
      valueOf(metrics.get('breaker.calls'), { 'breaker.name': '__other__', 'breaker.outcome': 'success' }),
    ).toBe(2);
    expect(
      valueOf(metrics.get('breaker.status'), { 'breaker.name': '__other__', 'breaker.state': 'closed' }),
    ).toBe(2);
    expect(valueOf(metrics.get('breaker.status'), { 'breaker.name': 'a', 'breaker.state': 'open' })).toBe(1);
    // "a" is dropped (open breakers are kept, so it is deleted), then "b" without an event; "d" is new.
    registry.delete('a');
    registry.delete('b');
    await registry.get('d').fire(() => 'ok');
    metrics = await reader.metrics();
    // "a" is in no state now; its slot is not given to "d", which joins "__other__" (and "b"'s call stays counted).
    for (const state of ['closed', 'open', 'half-open', 'forced-open', 'disabled']) {
      expect(valueOf(metrics.get('breaker.status'), { 'breaker.name': 'a', 'breaker.state': state })).toBe(0);
    }
    expect(
      valueOf(metrics.get('breaker.calls'), { 'breaker.name': '__other__', 'breaker.outcome': 'success' }),
    ).toBe(3);
    expect(point(metrics.get('breaker.calls'), { 'breaker.name': 'd' })).toBeUndefined();
    // A breaker of the same name carries on from the count its predecessor reached.
    await registry.get('a').fire(() => 'ok');
    metrics = await reader.metrics();
    expect(valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'a', 'breaker.outcome': 'success' })).toBe(
      2,
    );
    expect(valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'a', 'breaker.outcome': 'failure' })).toBe(
      1,
    );
  });

  it('a breaker that leaves before any collection keeps its counts, and reset() never makes a counter go down', async () => {
    const registry = new BreakerRegistry({ defaults: { failureThreshold: 1 } });
    const { reader, options } = setUp();
    running.push(instrument(registry, options));
    await registry.get('brief').fire(() => 'ok');
    registry.delete('brief');
    let metrics = await reader.metrics();
    expect(
      valueOf(metrics.get('breaker.status'), { 'breaker.name': 'brief', 'breaker.state': 'closed' }),
    ).toBe(0);
    await registry.get('brief').fire(() => 'ok');
    metrics = await reader.metrics();
    expect(
      valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'brief', 'breaker.outcome': 'success' }),
    ).toBe(2);
    const kept = registry.get('kept');
    for (let i = 0; i < 3; i++) await kept.fire(() => 'ok');
    await reader.metrics();
    kept.reset();
    await kept.fire(() => 'ok');
    metrics = await reader.metrics();
    expect(
      valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'kept', 'breaker.outcome': 'success' }),
    ).toBe(4);
    expect(kept.stats().counts.successes).toBe(1);
  });

  it('with delta temporality, a breaker that left is no longer reported after its last report in no state', async () => {
    class DeltaReader extends TestReader {
      override selectAggregationTemporality(): AggregationTemporality {
        return AggregationTemporality.DELTA;
      }
    }
    const reader = new DeltaReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const registry = new BreakerRegistry();
    running.push(instrument(registry, { meterProvider }));
    await registry.get('gone').fire(() => 'ok');
    expect(
      valueOf((await reader.metrics()).get('breaker.status'), {
        'breaker.name': 'gone',
        'breaker.state': 'closed',
      }),
    ).toBe(1);
    registry.delete('gone');
    // Delta temporality reports the change: from 1 to 0.
    const last = await reader.metrics();
    expect(valueOf(last.get('breaker.status'), { 'breaker.name': 'gone', 'breaker.state': 'closed' })).toBe(
      -1,
    );
    // Reported in no state for a few more collections (the callback runs once per reader), then no more.
    for (let i = 0; i < 4; i++) await reader.metrics();
    const later = await reader.metrics();
    expect(point(later.get('breaker.status'), { 'breaker.name': 'gone' })).toBeUndefined();
    expect(point(later.get('breaker.calls'), { 'breaker.name': 'gone' })).toBeUndefined();
  });

  it('works with breakers made directly, and by default adds no listener a call would pay for', async () => {
    const a = new CircuitBreaker({ name: 'direct-a' });
    const b = new CircuitBreaker({ name: 'direct-b' });
    const { reader, options } = setUp({ spanEvents: false });
    const instrumentation = instrument([a, b], options);
    running.push(instrumentation);
    expect(
      ['success', 'failure', 'ignored', 'reject', 'timeout'].map((e) => a.listenerCount(e as 'success')),
    ).toEqual([0, 0, 0, 0, 0]);
    await a.fire(() => 1);
    await fail(b);
    const metrics = await reader.metrics();
    expect(metrics.has('breaker.call.duration')).toBe(false);
    expect(
      valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'direct-b', 'breaker.outcome': 'failure' }),
    ).toBe(1);
    instrumentation.stop();
    expect(a.listenerCount('state-change')).toBe(0);
    // Stopped: later calls are no longer read.
    await a.fire(() => 1);
    const after = await reader.metrics();
    expect(
      valueOf(after.get('breaker.calls'), { 'breaker.name': 'direct-a', 'breaker.outcome': 'success' }),
    ).toBe(1);
  });

  it('checks its options and names the one that is wrong', () => {
    const registry = new BreakerRegistry();
    const cases: [unknown, string][] = [
      [{ maxBreakers: 0 }, 'maxBreakers'],
      [{ buckets: [1, 0.5] }, 'buckets'],
      [{ meterProvider: {} }, 'meterProvider'],
      [{ durations: 'yes' }, 'durations'],
      [{ policies: [42] }, 'policies'],
      [{ onStateChange: 'log' }, 'onStateChange'],
      [{ tracerProvider: {} }, 'tracerProvider'],
    ];
    for (const [options, option] of cases) {
      const thrown = (() => {
        try {
          instrument(registry, options as never);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(thrown).toBeInstanceOf(TypeError);
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe(option);
      expect((thrown as Error).message).toContain(option);
    }
    expect(() => instrument({} as never)).toThrow(/BreakerRegistry, a CircuitBreaker or breakers/);
  });

  it("matches the names the README documents in the SDK's Prometheus exporter", async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const meterProvider = new MeterProvider({ readers: [exporter] });
    const registry = new BreakerRegistry({ defaults: { failureThreshold: 1 } });
    running.push(instrument(registry, { meterProvider, durations: true }));
    await registry.get('rates').fire(() => 'ok');
    await fail(registry.get('rates'));
    const server: Server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // The exporter adds its own labels (otel_scope_name, …) after the breaker's.
      const has = (name: string, labels: Record<string, string>, value?: string): boolean =>
        text.split('\n').some((line) => {
          if (!line.startsWith(`${name}{`)) return false;
          const ok = Object.entries(labels).every(([key, v]) => line.includes(`${key}="${v}"`));
          return ok && (value === undefined || line.endsWith(` ${value}`));
        });
      expect(has('breaker_status', { breaker_name: 'rates', breaker_state: 'open' }, '1')).toBe(true);
      expect(has('breaker_calls_total', { breaker_name: 'rates', breaker_outcome: 'success' }, '1')).toBe(
        true,
      );
      expect(has('breaker_calls_total', { breaker_name: 'rates', breaker_outcome: 'failure' }, '1')).toBe(
        true,
      );
      expect(
        has(
          'breaker_transitions_total',
          {
            breaker_name: 'rates',
            breaker_transition_from: 'closed',
            breaker_transition_to: 'open',
            breaker_transition_reason: 'consecutive-failures',
          },
          '1',
        ),
      ).toBe(true);
      expect(has('breaker_call_duration_bucket', { breaker_outcome: 'success', le: '0.005' }, '1')).toBe(
        true,
      );
      expect(has('breaker_call_duration_count', { breaker_outcome: 'success' }, '1')).toBe(true);
      expect(has('breaker_open_remaining', { breaker_name: 'rates' })).toBe(true);
      expect(text).toContain('# TYPE breaker_status gauge');
      expect(text).toContain('# TYPE breaker_call_duration histogram');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await exporter.shutdown();
    }
  });
});

describe('@breaker/opentelemetry: span events', () => {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    contextManager.enable();
    context.setGlobalContextManager(contextManager);
  });
  afterAll(() => {
    context.disable();
  });
  afterEach(() => spans.reset());

  const tracer = tracerProvider.getTracer('test');
  /** Runs `work` inside an active span and returns that span once ended. */
  async function inSpan(work: () => Promise<unknown>): Promise<ReadableSpan> {
    await tracer.startActiveSpan('request', async (span) => {
      try {
        await work();
      } finally {
        span.end();
      }
    });
    const finished = spans.getFinishedSpans();
    return finished[finished.length - 1]!;
  }
  const events = (span: ReadableSpan) => span.events.map((e) => ({ name: e.name, ...e.attributes }));

  it('a rejection and a timeout inside a request add events to its span; a state change adds no span', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      name: 'partner',
      clock,
      failureThreshold: 1,
      timeout: 5_000,
      callTimeout: 100,
    });
    const changes: StateChangeRecord[] = [];
    running.push(
      instrument(breaker, { meterProvider: new MeterProvider(), onStateChange: (r) => changes.push(r) }),
    );
    const span = await inSpan(async () => {
      const hung = breaker.fire(() => new Promise(() => {}));
      clock.advance(100);
      await hung.catch(() => {});
      await breaker.fire(() => 'never').catch(() => {});
    });
    expect(events(span)).toEqual([
      {
        name: 'breaker.timeout',
        'breaker.name': 'partner',
        'breaker.state': 'closed',
        'breaker.reason': 'timeout',
        'breaker.call_timeout': 0.1,
      },
      {
        name: 'breaker.rejected',
        'breaker.name': 'partner',
        'breaker.state': 'open',
        'breaker.reason': 'open',
        'breaker.retry_after': 5,
      },
    ]);
    expect(spans.getFinishedSpans()).toHaveLength(1);
    expect(changes).toEqual([
      expect.objectContaining({
        name: 'partner',
        from: 'closed',
        to: 'open',
        reason: 'consecutive-failures',
        attributes: {
          'breaker.name': 'partner',
          'breaker.transition.from': 'closed',
          'breaker.transition.to': 'open',
          'breaker.transition.reason': 'consecutive-failures',
        },
      }),
    ]);
    // Outside any span: nothing to add to, and nothing thrown.
    await breaker.fire(() => 'never').catch(() => {});
    expect(spans.getFinishedSpans()).toHaveLength(1);
  });

  it("a composed bulkhead's rejection and a fallback go on the span through `policies`", async () => {
    const breaker = new CircuitBreaker({ name: 'quotes', failureThreshold: 1 });
    const limit = bulkhead({ name: 'quotes-pool', maxConcurrent: 1 });
    const cached = fallback(() => 'cached');
    const policy = compose(cached, limit, breaker);
    running.push(instrument(breaker, { meterProvider: new MeterProvider(), policies: [limit, cached] }));
    let release = (): void => {};
    const busy = policy.execute(() => new Promise<string>((resolve) => (release = () => resolve('done'))));
    const span = await inSpan(async () => {
      await expect(policy.execute(() => 'second')).resolves.toBe('cached');
    });
    release();
    await busy;
    expect(events(span)).toEqual([
      {
        name: 'breaker.bulkhead.rejected',
        'breaker.name': 'quotes-pool',
        'breaker.bulkhead.name': 'quotes-pool',
        'breaker.reason': 'full',
      },
      { name: 'breaker.fallback', 'breaker.reason': 'bulkhead-full' },
    ]);
  });

  it("an Express route's rejections, bulkhead and fallback reach the request's span through the shared registry", async () => {
    const registry = new BreakerRegistry();
    running.push(instrument(registry, { meterProvider: new MeterProvider() }));
    const app = express();
    app.use((req, res, next) =>
      tracer.startActiveSpan(`GET ${req.path}`, (span) => {
        res.on('finish', () => span.end());
        next();
      }),
    );
    let release = (): void => {};
    app.get(
      '/slow',
      circuitBreaker({ name: 'slow', registry, bulkhead: { maxConcurrent: 1 } }),
      (_req, res) => void new Promise<void>((resolve) => (release = resolve)).then(() => res.send('ok')),
    );
    app.get(
      '/down',
      circuitBreaker({
        name: 'down',
        registry,
        failureThreshold: 1,
        fallback: (_req, res) => res.end('cached'),
      }),
      (_req, res) => res.status(502).send('bad gateway'),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const first = fetch(`${base}/slow`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await fetch(`${base}/slow`)).status).toBe(503);
      release();
      await first;
      expect((await fetch(`${base}/down`)).status).toBe(502);
      expect(await (await fetch(`${base}/down`)).text()).toBe('cached');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const all = spans.getFinishedSpans().map((span) => ({ name: span.name, events: events(span) }));
    expect(all).toContainEqual({
      name: 'GET /slow',
      events: [
        {
          name: 'breaker.bulkhead.rejected',
          'breaker.name': 'slow',
          'breaker.bulkhead.name': 'slow',
          'breaker.state': 'closed',
          'breaker.reason': 'full',
        },
      ],
    });
    expect(all).toContainEqual({
      name: 'GET /down',
      events: [
        {
          name: 'breaker.rejected',
          'breaker.name': 'down',
          'breaker.state': 'open',
          'breaker.reason': 'open',
          'breaker.retry_after': expect.any(Number),
        },
        {
          name: 'breaker.fallback',
          'breaker.name': 'down',
          'breaker.state': 'open',
          'breaker.reason': 'open',
        },
      ],
    });
  });

  it('Koa fallbacks and undici calls share the registry: their breakers are measured, their decisions put on spans', async () => {
    const registry = new BreakerRegistry();
    const reader = new TestReader();
    running.push(instrument(registry, { meterProvider: new MeterProvider({ readers: [reader] }) }));
    const partner = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    });
    await new Promise<void>((resolve) => partner.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(partner.address() as AddressInfo).port}`;
    const agent = new Agent();
    const dispatcher = agent.compose(undiciBreaker({ registry, name: 'partner', failureThreshold: 1 }));
    const app = new Koa();
    app.use((ctx, next) =>
      tracer.startActiveSpan(`GET ${ctx.path}`, async (span) => {
        try {
          await next();
        } finally {
          span.end();
        }
      }),
    );
    app.use(
      koaBreaker({
        name: 'quotes',
        registry,
        failureThreshold: 1,
        fallback: (ctx) => {
          ctx.body = 'cached';
        },
      }),
    );
    app.use(async (ctx) => {
      const answer = await request(`${origin}/quote`, { dispatcher });
      await answer.body.dump();
      ctx.status = 502;
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${base}/q`)).status).toBe(502);
      expect(await (await fetch(`${base}/q`)).text()).toBe('cached');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await new Promise((resolve) => partner.close(resolve));
      await agent.close();
    }
    const metrics = await reader.metrics();
    const names = new Set(
      (metrics.get('breaker.calls')?.dataPoints ?? []).map((p) => p.attributes['breaker.name']),
    );
    expect(names.size).toBe(2);
    expect(names.has('quotes')).toBe(true);
    expect(
      valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'quotes', 'breaker.outcome': 'failure' }),
    ).toBe(1);
    expect(
      valueOf(metrics.get('breaker.calls'), { 'breaker.name': 'quotes', 'breaker.outcome': 'rejected' }),
    ).toBe(1);
    expect([...names].some((name) => String(name).startsWith('partner:'))).toBe(true);
    const last = spans.getFinishedSpans().at(-1)!;
    expect(events(last).map((e) => e.name)).toEqual(['breaker.rejected', 'breaker.fallback']);
    expect(events(last)[1]).toMatchObject({ 'breaker.name': 'quotes', 'breaker.reason': 'open' });
  });
});
