import { z } from 'zod';
import { BreakerRegistry } from '../registry.js';
import { InvalidOptionError } from '../errors.js';
import { resolveOptions, type BreakerOptions } from '../options.js';
import { describe, optionError, parseOptions } from '../validation.js';
import {
  HTTP_BULKHEAD_HINTS,
  bulkheadLimit,
  httpBulkheadSchema,
  type HttpBulkheadOptions,
} from './bulkhead.js';
import { HTTP_RETRY_HINTS, httpRetrySchema, resolveHttpRetry, type ResolvedHttpRetry } from './retry.js';

/** What an HTTP `isFailure` is told about a finished request. */
export interface HttpOutcome {
  /** The status sent to the client (for a thrown error, its `status`, or 500). */
  status: number;
  /** The error the handler threw or passed on, if the framework shows it. */
  error: unknown;
  durationMs: number;
}

/** Why a breaker answers in the handler's place. */
export type FallbackReason = 'open' | 'half-open-busy' | 'bulkhead-full' | 'timeout' | 'error';

/** What a fallback is told. */
export interface FallbackInfo {
  reason: FallbackReason;
  /** Name of the breaker. */
  breaker: string;
  /** Milliseconds until the breaker admits requests again (0 unless open); for `bulkhead-full`, an estimate of when a slot frees. */
  retryAfterMs: number;
  /** The rejection (`BreakerOpenError` or `BulkheadRejectedError`), the timeout, or the handler's error. */
  error: unknown;
}

/** Options every HTTP adapter takes: the breaker's own, plus how to read requests. */
export interface HttpBreakerOptions<Req> extends Omit<BreakerOptions, 'isFailure' | 'name' | 'initialState'> {
  /** Breaker name, and prefix of keyed names (`name:key`); default `"http"`. */
  name?: string;
  /** One breaker per value (route, upstream, partner, tenant): named `name:key`. */
  key?: (request: Req) => string;
  /** Whether a finished request counts against the upstream (default: status 500 and up). */
  isFailure?: (outcome: HttpOutcome) => boolean;
  /** Where breakers live; pass one registry to share breakers with other routes, metrics and the dashboard. */
  registry?: BreakerRegistry;
  /** Most keyed breakers this middleware's own registry keeps (default 1000); not with `registry`. */
  maxKeys?: number;
  /** `"respond"` (default) answers a turned-away request itself; `"error"` hands the framework a 503 error. */
  onReject?: 'respond' | 'error';
  /** At most `maxConcurrent` requests at once per breaker, `maxQueue` more waiting; off by default. */
  bulkhead?: HttpBulkheadOptions;
}

/** HTTP options after checks. */
export interface ResolvedHttpOptions<Req> {
  name: string;
  key: ((request: Req) => string) | undefined;
  isFailure: (outcome: HttpOutcome) => boolean;
  registry: BreakerRegistry;
  breakerOptions: Omit<BreakerOptions, 'name'>;
  onReject: 'respond' | 'error';
  bulkhead: Readonly<HttpBulkheadOptions> | undefined;
}

const HTTP_KEYS = [
  'name',
  'key',
  'isFailure',
  'registry',
  'maxKeys',
  'onReject',
  'fallback',
  'bulkhead',
] as const;

const policyOptions = z.strictObject({
  bulkhead: httpBulkheadSchema.optional(),
  retry: httpRetrySchema.optional(),
});

/** The `bulkhead` and `retry` options of an HTTP adapter, after checks. */
export interface HttpPolicies {
  bulkhead: Readonly<HttpBulkheadOptions> | undefined;
  retry: ResolvedHttpRetry | undefined;
}

/**
 * Checks an adapter's `bulkhead` and `retry` options once; a bad one throws an `InvalidOptionError`
 * naming it, such as `retry.attempts`. Pass only the options the adapter takes.
 */
export function resolveHttpPolicies(
  options: { bulkhead?: unknown; retry?: unknown },
  context: string,
): HttpPolicies {
  const parsed = parseOptions(policyOptions, options, context, {
    ...HTTP_BULKHEAD_HINTS,
    ...HTTP_RETRY_HINTS,
  });
  return {
    bulkhead: bulkheadLimit(parsed.bulkhead),
    retry: parsed.retry === undefined ? undefined : resolveHttpRetry(parsed.retry, context),
  };
}

/** By default a server error counts as a failure; anything below 500 is the client's business. */
export function defaultIsHttpFailure({ status }: HttpOutcome): boolean {
  return status >= 500;
}

/**
 * Checks an adapter's options once, in its factory. `context` names the factory in messages,
 * such as `circuitBreaker() from @breaker/express`.
 */
export function resolveHttpOptions<Req>(
  options: (HttpBreakerOptions<Req> & { fallback?: unknown }) | undefined,
  context: string,
): ResolvedHttpOptions<Req> {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new InvalidOptionError(
      'options',
      `${context} options must be an object; received ${describe(options)}.`,
    );
  }
  const {
    name = 'http',
    key,
    isFailure,
    registry,
    maxKeys,
    onReject = 'respond',
    fallback,
    bulkhead,
    ...rest
  } = options ?? {};
  if (typeof name !== 'string' || name === '') throw invalid(context, 'name', 'a non-empty string', name);
  for (const [option, value] of [
    ['key', key],
    ['isFailure', isFailure],
    ['fallback', fallback],
  ] as const) {
    if (value !== undefined && typeof value !== 'function')
      throw invalid(context, option, 'a function', value);
  }
  if (registry !== undefined && !(registry instanceof BreakerRegistry)) {
    throw invalid(context, 'registry', 'a BreakerRegistry', registry);
  }
  if (maxKeys !== undefined) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1)
      throw invalid(context, 'maxKeys', 'a whole number of at least 1', maxKeys);
    if (registry !== undefined)
      throw invalid(
        context,
        'maxKeys',
        'no value when `registry` is given (set the registry`s maxSize)',
        maxKeys,
      );
  }
  if (onReject !== 'respond' && onReject !== 'error') {
    throw invalid(context, 'onReject', '"respond" or "error"', onReject);
  }
  const limit = resolveHttpPolicies({ bulkhead }, context).bulkhead;
  // The remaining keys are the breaker's own; checking them here reports a bad one at start-up.
  resolveOptions({ ...rest, name }, context, HTTP_KEYS);
  return {
    name,
    key,
    isFailure: isFailure ?? defaultIsHttpFailure,
    registry: registry ?? new BreakerRegistry({ maxSize: maxKeys ?? 1_000 }),
    breakerOptions: rest,
    onReject,
    bulkhead: limit,
  };
}

const invalid = optionError;
