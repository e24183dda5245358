import { z } from 'zod';
import { systemClock, type Clock } from '../clock.js';
import { BreakerOpenError } from '../errors.js';
import { clock, fn, optionError, millis, nonNegative, parseOptions, whole } from '../validation.js';

export const DEFAULT_RETRY_ATTEMPTS = 3;
export const DEFAULT_RETRY_BASE_DELAY = 100;
export const DEFAULT_RETRY_MAX_DELAY = 10_000;
export const DEFAULT_RETRY_BUDGET_RATIO = 0.2;
export const DEFAULT_RETRY_BUDGET_MIN_PER_SECOND = 10;
export const DEFAULT_RETRY_BUDGET_WINDOW = 10_000;

/** How many retries recent traffic allows. */
export interface RetryBudgetOptions {
  /** Retries allowed per call over the window (default 0.2). */
  ratio?: number;
  /** Retries allowed per second whatever the traffic, so low traffic still retries (default 10). */
  minPerSecond?: number;
  /** Milliseconds of calls the ratio counts (default 10 000). */
  window?: number;
}

/** Options of {@link retry}; every one has a default. */
export interface RetryOptions {
  /** Tries in all, the first included (default 3). */
  attempts?: number;
  /** Cap of the first backoff in milliseconds; the cap doubles at each retry (default 100). */
  baseDelay?: number;
  /** Longest backoff, and longest `Retry-After` honoured (default 10 000). */
  maxDelay?: number;
  /** Whether an error is worth another try (default: every error but `BreakerOpenError`). */
  retryOn?: (error: unknown) => boolean;
  /** Limits retries to a share of recent calls; `false` turns the limit off. */
  budget?: RetryBudgetOptions | false;
  /** Source of time and timers (default the system clock). */
  clock?: Clock;
  /** Source of randomness for the jitter, returning [0, 1) (default `Math.random`). */
  random?: () => number;
}

const budgetError = 'an object { ratio, minPerSecond, window } or false';

/** The `budget` option's schema, shared with the HTTP clients' `retry` option. */
export const budgetSchema = z.union(
  [
    z.literal(false),
    z.strictObject(
      {
        ratio: nonNegative().optional(),
        minPerSecond: nonNegative().optional(),
        window: millis(1).optional(),
      },
      { error: budgetError },
    ),
  ],
  { error: budgetError },
);

const schema = z.strictObject({
  attempts: whole(1).optional(),
  baseDelay: millis(0).optional(),
  maxDelay: millis(0).optional(),
  retryOn: fn<(error: unknown) => boolean>('a function (error) => boolean').optional(),
  budget: budgetSchema.optional(),
  clock: clock.optional(),
  random: fn<() => number>('a function returning a number in [0, 1)').optional(),
});

const HINTS: Record<string, string> = {
  maxAttempts: '`attempts` (tries in all, the first included)',
  retries: '`attempts` (tries in all, the first included: retries + 1)',
  initialDelay: '`baseDelay`',
  minTimeout: '`baseDelay`',
  maxTimeout: '`maxDelay`',
  shouldRetry: '`retryOn`',
  handle: '`retryOn`',
};

/** Never retry into an open breaker: it would only wait out the rejection the breaker gave at once. */
function defaultRetryOn(error: unknown): boolean {
  return !(error instanceof BreakerOpenError);
}

/** Retry options after defaults. */
export interface ResolvedRetryOptions {
  readonly attempts: number;
  readonly baseDelay: number;
  readonly maxDelay: number;
  readonly retryOn: (error: unknown) => boolean;
  readonly budget:
    { readonly ratio: number; readonly minPerSecond: number; readonly window: number } | undefined;
  readonly clock: Clock;
  readonly random: () => number;
}

/** Checks retry options once and fills in defaults; throws `InvalidOptionError` naming the option. */
export function resolveRetryOptions(options: RetryOptions | undefined): ResolvedRetryOptions {
  const o = parseOptions(schema, options, 'retry()', HINTS);
  const baseDelay = o.baseDelay ?? DEFAULT_RETRY_BASE_DELAY;
  const maxDelay = o.maxDelay ?? Math.max(DEFAULT_RETRY_MAX_DELAY, baseDelay);
  if (maxDelay < baseDelay) {
    throw optionError('retry()', 'maxDelay', `at least \`baseDelay\` (${baseDelay})`, maxDelay);
  }
  return {
    attempts: o.attempts ?? DEFAULT_RETRY_ATTEMPTS,
    baseDelay,
    maxDelay,
    retryOn: o.retryOn ?? defaultRetryOn,
    budget:
      o.budget === false
        ? undefined
        : {
            ratio: o.budget?.ratio ?? DEFAULT_RETRY_BUDGET_RATIO,
            minPerSecond: o.budget?.minPerSecond ?? DEFAULT_RETRY_BUDGET_MIN_PER_SECOND,
            window: o.budget?.window ?? DEFAULT_RETRY_BUDGET_WINDOW,
          },
    clock: o.clock ?? systemClock,
    random: o.random ?? Math.random,
  };
}
