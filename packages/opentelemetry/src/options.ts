import type { MeterProvider } from '@opentelemetry/api';
import {
  BreakerRegistry,
  CircuitBreaker,
  InvalidOptionError,
  type BulkheadPolicy,
  type FallbackPolicy,
} from '@breaker/core';
import {
  BUCKETS_ALLOWED,
  MAX_BREAKERS_ALLOWED,
  checkOptionKeys,
  invalidOption,
  isBucketBounds,
  isMaxBreakers,
} from '@breaker/core/http';
import type { StateChangeRecord } from './attributes.js';

/** A policy whose rejections or fallbacks go on the active span: a bulkhead or a fallback. */
export type WatchedPolicy = BulkheadPolicy | FallbackPolicy<unknown>;

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Where the meter comes from (default: the global one, `metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Most distinct breaker names given a `breaker.name` of their own; later ones share `__other__` (default 100). */
  maxBreakers?: number;
  /** Bucket boundaries advised for the call duration histogram, in seconds (default: OpenTelemetry's for HTTP). */
  buckets?: readonly number[];
  /**
   * Record every call's duration in the `breaker.call.duration` histogram (default `false`). Each call
   * then pays two clock reads and a histogram record, which the OpenTelemetry JS SDK makes cost about a
   * microsecond (it hashes the attributes and finds the bucket on every record), sixteen times a
   * closed call; every other figure is read from the breakers' own stats at collection and costs nothing per call.
   */
  durations?: boolean;
  /** Add span events to the active span on rejections, timeouts, bulkhead rejections and fallbacks (default `true`). */
  spanEvents?: boolean;
  /** Bulkhead and fallback policies (from `bulkhead()` and `fallback()`) whose rejections and fallbacks go on the active span. */
  policies?: Iterable<WatchedPolicy>;
  /** Hears every state change, with its attributes, for a log record or any other use. */
  onStateChange?: (record: StateChangeRecord) => void;
}

export interface ResolvedInstrumentOptions {
  meterProvider: MeterProvider | undefined;
  maxBreakers: number;
  buckets: number[];
  durations: boolean;
  spanEvents: boolean;
  policies: WatchedPolicy[];
  onStateChange: ((record: StateChangeRecord) => void) | undefined;
}

export const DEFAULT_MAX_BREAKERS = 100;
/** The boundaries OpenTelemetry's semantic conventions advise for HTTP durations: 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

const CONTEXT = 'instrument() from @breaker/opentelemetry';
const KNOWN = [
  'meterProvider',
  'maxBreakers',
  'buckets',
  'durations',
  'spanEvents',
  'policies',
  'onStateChange',
];
const HINTS: Record<string, string> = {
  provider: 'meterProvider',
  meter: 'meterProvider',
  tracerProvider: 'spanEvents (span events go to the active span, whichever provider made it)',
  tracer: 'spanEvents',
  maxSize: 'maxBreakers',
  maxCardinality: 'maxBreakers',
  boundaries: 'buckets',
  explicitBucketBoundaries: 'buckets',
  histogram: 'durations',
  traces: 'spanEvents',
  events: 'spanEvents',
  bulkheads: 'policies',
  fallbacks: 'policies',
  onTransition: 'onStateChange',
};

/** What {@link instrument} watches: a registry, one breaker, or several. */
export type InstrumentTarget = BreakerRegistry | CircuitBreaker | Iterable<CircuitBreaker>;

/** Checks the target: a registry, a breaker, or an iterable of breakers. */
export function checkTarget(target: unknown): void {
  if (target instanceof BreakerRegistry || target instanceof CircuitBreaker) return;
  if (
    typeof target === 'object' &&
    target !== null &&
    typeof (target as Iterable<unknown>)[Symbol.iterator] === 'function'
  ) {
    for (const item of target as Iterable<unknown>) {
      if (!(item instanceof CircuitBreaker)) {
        throw invalid('target', 'a BreakerRegistry, a CircuitBreaker or breakers (the first argument)', item);
      }
    }
    return;
  }
  throw invalid('target', 'a BreakerRegistry, a CircuitBreaker or breakers (the first argument)', target);
}

/** Checks the options once, when instrumentation starts, and fills in the defaults. */
export function resolveInstrumentOptions(options: InstrumentOptions | undefined): ResolvedInstrumentOptions {
  checkOptionKeys(CONTEXT, options, KNOWN, HINTS);
  const {
    meterProvider,
    maxBreakers = DEFAULT_MAX_BREAKERS,
    buckets = DEFAULT_BUCKETS,
    durations = false,
    spanEvents = true,
    policies = [],
    onStateChange,
  } = options ?? {};
  if (
    meterProvider !== undefined &&
    typeof (meterProvider as Partial<MeterProvider> | null)?.getMeter !== 'function'
  ) {
    throw invalid('meterProvider', 'an OpenTelemetry MeterProvider (with getMeter())', meterProvider);
  }
  if (!isMaxBreakers(maxBreakers)) throw invalid('maxBreakers', MAX_BREAKERS_ALLOWED, maxBreakers);
  if (!isBucketBounds(buckets)) throw invalid('buckets', BUCKETS_ALLOWED, buckets);
  if (typeof durations !== 'boolean') throw invalid('durations', 'true or false', durations);
  if (typeof spanEvents !== 'boolean') throw invalid('spanEvents', 'true or false', spanEvents);
  const watched = checkPolicies(policies);
  if (onStateChange !== undefined && typeof onStateChange !== 'function') {
    throw invalid('onStateChange', 'a function', onStateChange);
  }
  return {
    meterProvider,
    maxBreakers,
    buckets: [...buckets],
    durations,
    spanEvents,
    policies: watched,
    onStateChange,
  };
}

function checkPolicies(policies: unknown): WatchedPolicy[] {
  const allowed = 'bulkhead and fallback policies (each with on())';
  if (
    typeof policies !== 'object' ||
    policies === null ||
    typeof (policies as Iterable<unknown>)[Symbol.iterator] !== 'function'
  ) {
    throw invalid('policies', allowed, policies);
  }
  const list = [...(policies as Iterable<unknown>)];
  for (const policy of list) {
    if (typeof (policy as { on?: unknown } | null)?.on !== 'function') {
      throw invalid('policies', allowed, policy);
    }
  }
  return list as WatchedPolicy[];
}

/** An {@link InvalidOptionError} naming the option, what is allowed and what was received. */
export function invalid(option: string, allowed: string, received: unknown): InvalidOptionError {
  return invalidOption(CONTEXT, option, allowed, received);
}
