// `--otel`: the demo's breakers reported through OpenTelemetry (@breaker/opentelemetry), printed by the
// SDK's console exporters at the end of the run: the metrics, and a few request spans with the events
// the breaker added to them.
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  ConsoleSpanExporter,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { instrument } from '@breaker/opentelemetry';

/** Starts telemetry for `registry`; `middleware` gives each request a span; `finish()` prints and stops. */
export function startTelemetry(registry) {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const tracer = tracerProvider.getTracer('gateway-demo');
  // Exported once, at the end: the run is short, and the timeline keeps the console meanwhile.
  const reader = new PeriodicExportingMetricReader({
    exporter: new ConsoleMetricExporter(),
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = instrument(registry, { meterProvider, durations: true });

  const middleware = (req, res, next) =>
    tracer.startActiveSpan(`GET ${req.path}`, (span) => {
      res.once('close', () => span.end());
      next();
    });

  async function finish() {
    console.log();
    console.log("OpenTelemetry (--otel): the metrics, from the SDK's ConsoleMetricExporter:");
    await reader.forceFlush();
    const finished = spans.getFinishedSpans();
    const withEvents = finished.filter((span) => span.events.length > 0);
    const byEvent = new Map();
    for (const span of withEvents) {
      const key = span.events.map((e) => e.name).join(' + ');
      if (!byEvent.has(key)) byEvent.set(key, { span, count: 0 });
      byEvent.get(key).count++;
    }
    console.log();
    console.log(`${withEvents.length} of ${finished.length} request spans carry breaker events:`);
    for (const [key, { count }] of byEvent) console.log(`  ${String(count).padStart(4)}  ${key}`);
    console.log();
    console.log("The first span of each kind, from the SDK's ConsoleSpanExporter:");
    await new Promise((resolve) =>
      new ConsoleSpanExporter().export(
        [...byEvent.values()].map((v) => v.span),
        resolve,
      ),
    );
    instrumentation.stop();
    await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    context.disable();
  }

  return { middleware, finish };
}
