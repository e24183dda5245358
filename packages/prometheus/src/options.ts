import type { Registry } from 'prom-client';
import { InvalidOptionError } from '@breaker/core';
import { describeValue } from '@breaker/core/http';

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
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidOptionError(
      'options',
      `Invalid ${CONTEXT} options: expected an object; received ${describeValue(options)}.`,
    );
  }
  const {
    register,
    prefix = DEFAULT_PREFIX,
    maxBreakers = DEFAULT_MAX_BREAKERS,
    buckets = DEFAULT_BUCKETS,
    ...rest
  } = options ?? {};
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) {
    const hint = HINTS[unknown];
    throw new InvalidOptionError(
      unknown,
      `Unknown ${CONTEXT} option "${unknown}"${hint === undefined ? '' : `; did you mean "${hint}"?`}` +
        ` Known options: ${KNOWN.join(', ')}.`,
    );
  }
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
  if (!Number.isInteger(maxBreakers) || maxBreakers < 1) {
    throw invalid('maxBreakers', 'a whole number of at least 1', maxBreakers);
  }
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    !buckets.every(
      (bound, i) =>
        typeof bound === 'number' &&
        Number.isFinite(bound) &&
        bound > 0 &&
        (i === 0 || bound > buckets[i - 1]!),
    )
  ) {
    throw invalid('buckets', 'a non-empty array of increasing positive numbers of seconds', buckets);
  }
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
  const shown = Array.isArray(received) ? JSON.stringify(received).slice(0, 60) : describeValue(received);
  return new InvalidOptionError(
    option,
    `Invalid ${CONTEXT} option "${option}": expected ${allowed}; received ${shown}.`,
  );
}
