import type { Registry } from 'prom-client';
import { InvalidOptionError } from '@breaker/core';
import {
  BUCKETS_ALLOWED,
  MAX_BREAKERS_ALLOWED,
  checkOptionKeys,
  invalidOption,
  isBucketBounds,
  isMaxBreakers,
} from '@breaker/core/http';

/** Options of {@link collectMetrics}. */
export interface MetricsOptions {
  /** The prom-client registry to register the metrics in (default: prom-client's global `register`). */
  register?: Registry;
  /** Prepended to every metric name (default `breaker_`). */
  prefix?: string;
  /** Most distinct breaker names given a label of their own; later ones share `breaker="__other__"` (default 100). */
  maxBreakers?: number;
  /** Upper bounds, in seconds, of the call duration histogram's buckets. */
  buckets?: readonly number[];
}

/** Options after defaults. */
export interface ResolvedMetricsOptions {
  register: Registry | undefined;
  prefix: string;
  maxBreakers: number;
  buckets: number[];
}

export const DEFAULT_PREFIX = 'breaker_';
export const DEFAULT_MAX_BREAKERS = 100;
/** prom-client's own default buckets: 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const CONTEXT = 'collectMetrics() from @breaker/prometheus';
const KNOWN = ['register', 'prefix', 'maxBreakers', 'buckets'];
const HINTS: Record<string, string> = {
  registers: 'register',
  registry: 'register',
  metricPrefix: 'prefix',
  namePrefix: 'prefix',
  maxSize: 'maxBreakers',
  maxLabels: 'maxBreakers',
  maxCardinality: 'maxBreakers',
  limit: 'maxBreakers',
};
const METRIC_NAME_PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/** Checks the options once, when metrics are set up, and fills in the defaults. */
export function resolveMetricsOptions(options: MetricsOptions | undefined): ResolvedMetricsOptions {
  checkOptionKeys(CONTEXT, options, KNOWN, HINTS);
  const {
    register,
    prefix = DEFAULT_PREFIX,
    maxBreakers = DEFAULT_MAX_BREAKERS,
    buckets = DEFAULT_BUCKETS,
  } = options ?? {};
  if (register !== undefined && !isRegister(register)) {
    throw invalid('register', 'a prom-client Registry', register);
  }
  if (typeof prefix !== 'string' || !METRIC_NAME_PREFIX.test(prefix)) {
    throw invalid(
      'prefix',
      'a metric name prefix: letters, digits, "_" and ":", not starting with a digit',
      prefix,
    );
  }
  if (!isMaxBreakers(maxBreakers)) throw invalid('maxBreakers', MAX_BREAKERS_ALLOWED, maxBreakers);
  if (!isBucketBounds(buckets)) throw invalid('buckets', BUCKETS_ALLOWED, buckets);
  return { register, prefix, maxBreakers, buckets: [...buckets] };
}

function isRegister(value: unknown): value is Registry {
  const candidate = value as Partial<
    Record<'registerMetric' | 'getSingleMetric' | 'removeSingleMetric', unknown>
  >;
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof candidate.registerMetric === 'function' &&
    typeof candidate.getSingleMetric === 'function' &&
    typeof candidate.removeSingleMetric === 'function'
  );
}

/** An {@link InvalidOptionError} naming the option, what is allowed and what was received. */
export function invalid(option: string, allowed: string, received: unknown): InvalidOptionError {
  return invalidOption(CONTEXT, option, allowed, received);
}
