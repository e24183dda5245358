import { z } from 'zod';
import type { Clock } from '../clock.js';
import { RetryBudget, type RetryBudgetStats } from '../policies/RetryBudget.js';
import { backoffDelay } from '../policies/RetryPolicy.js';
import {
  DEFAULT_RETRY_ATTEMPTS,
  DEFAULT_RETRY_BASE_DELAY,
  DEFAULT_RETRY_BUDGET_MIN_PER_SECOND,
  DEFAULT_RETRY_BUDGET_RATIO,
  DEFAULT_RETRY_BUDGET_WINDOW,
  DEFAULT_RETRY_MAX_DELAY,
  budgetSchema,
  type RetryBudgetOptions,
} from '../policies/retryOptions.js';
import { optionError, millis, whole } from '../validation.js';

/** The methods retried by default: those RFC 9110 defines as idempotent. */
export const DEFAULT_RETRY_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'OPTIONS',
  'PUT',
  'DELETE',
  'TRACE',
]);

/** The `retry` option of an outbound HTTP client: which requests to send again, how often and when. */
export interface HttpRetryOptions {
  /** Tries in all, the first included (default 3). */
  attempts?: number;
  /** Cap of the first backoff in milliseconds; the cap doubles at each retry (default 100). */
  baseDelay?: number;
  /** Longest backoff, and longest `Retry-After` honoured (default the larger of 10 000 and `baseDelay`). */
  maxDelay?: number;
  /** Limits retries to a share of recent requests; `false` turns the limit off. */
  budget?: RetryBudgetOptions | false;
  /** Methods that may be sent again (default GET, HEAD, OPTIONS, PUT, DELETE and TRACE). */
  methods?: readonly string[];
}

const methodsError = 'an array of HTTP method names, such as ["GET", "PUT"]';

/** The `retry` option's schema, for the adapters' own option checks. */
export const httpRetrySchema = z.strictObject(
  {
    attempts: whole(1).optional(),
    baseDelay: millis(0).optional(),
    maxDelay: millis(0).optional(),
    budget: budgetSchema.optional(),
    methods: z
      .array(
        // Stryker disable next-line ObjectLiteral: the string schema's own error already words a failed pattern
        z.string({ error: methodsError }).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: methodsError }),
        { error: methodsError },
      )
      .optional(),
  },
  { error: 'an object { attempts, baseDelay, maxDelay, budget, methods }' },
);

/** Other libraries' names for the `retry` option's fields. */
export const HTTP_RETRY_HINTS: Readonly<Record<string, string>> = {
  'retry.maxAttempts': '`retry.attempts` (tries in all, the first included)',
  'retry.retries': '`retry.attempts` (tries in all, the first included: retries + 1)',
  'retry.maxRetries': '`retry.attempts` (tries in all, the first included: retries + 1)',
  'retry.minTimeout': '`retry.baseDelay`',
  'retry.initialDelay': '`retry.baseDelay`',
  'retry.maxTimeout': '`retry.maxDelay`',
  'retry.method': '`retry.methods`',
};

/** The `retry` option after checks and defaults. */
export interface ResolvedHttpRetry {
  readonly attempts: number;
  readonly baseDelay: number;
  readonly maxDelay: number;
  readonly budget:
    { readonly ratio: number; readonly minPerSecond: number; readonly window: number } | undefined;
  /** Upper-case method names. */
  readonly methods: ReadonlySet<string>;
}

/** Fills in the defaults of a `retry` option that passed {@link httpRetrySchema}. */
export function resolveHttpRetry(
  parsed: z.infer<typeof httpRetrySchema>,
  context: string,
): ResolvedHttpRetry {
  const baseDelay = parsed.baseDelay ?? DEFAULT_RETRY_BASE_DELAY;
  const maxDelay = parsed.maxDelay ?? Math.max(DEFAULT_RETRY_MAX_DELAY, baseDelay);
  if (maxDelay < baseDelay) {
    throw optionError(context, 'retry.maxDelay', `at least \`retry.baseDelay\` (${baseDelay})`, maxDelay);
  }
  const budget = parsed.budget;
  return {
    attempts: parsed.attempts ?? DEFAULT_RETRY_ATTEMPTS,
    baseDelay,
    maxDelay,
    budget:
      budget === false
        ? undefined
        : {
            ratio: budget?.ratio ?? DEFAULT_RETRY_BUDGET_RATIO,
            minPerSecond: budget?.minPerSecond ?? DEFAULT_RETRY_BUDGET_MIN_PER_SECOND,
            window: budget?.window ?? DEFAULT_RETRY_BUDGET_WINDOW,
          },
    methods: new Set((parsed.methods ?? DEFAULT_RETRY_METHODS).map((method) => method.toUpperCase())),
  };
}

/**
 * Whether a request may be sent again: its method is one of `methods` or it carries an
 * `Idempotency-Key` header (the client's word that the upstream drops a duplicate), and its body
 * can be sent twice (none, a string or a buffer; never a stream, an iterable or form data).
 */
export function isReplayable(
  retry: Pick<ResolvedHttpRetry, 'methods'>,
  method: string,
  headers: unknown,
  body: unknown,
): boolean {
  const replayableBody =
    body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
  if (!replayableBody) return false;
  return retry.methods.has(method.toUpperCase()) || hasHeader(headers, 'idempotency-key');
}

/** Whether `headers`, in any form undici takes (object, flat array, pairs, `Headers`), names `name`. */
function hasHeader(headers: unknown, name: string): boolean {
  if (typeof headers !== 'object' || headers === null) return false;
  const is = (key: unknown): boolean => typeof key === 'string' && key.toLowerCase() === name;
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) return headers.some((pair) => is((pair as unknown[])[0]));
    // Stryker disable next-line EqualityOperator: the entry one past the end is undefined, never a header name
    for (let i = 0; i < headers.length; i += 2) if (is(headers[i])) return true;
    return false;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const entry of headers as Iterable<unknown>) {
      if (Array.isArray(entry) && is(entry[0])) return true;
    }
    return false;
  }
  return Object.entries(headers).some(([key, value]) => value !== undefined && is(key));
}

/**
 * The backoff and retry budget of one upstream, after the retry policy's rules: full jitter under
 * `baseDelay × 2^(n-1)` capped by `maxDelay`, at least an upstream's `Retry-After` (or no retry when it
 * asks for longer than `maxDelay`), and at most the budget's share of recent requests.
 */
export class RetrySchedule {
  readonly options: ResolvedHttpRetry;
  readonly #budget: RetryBudget | undefined;
  readonly #clock: Clock;
  readonly #random: () => number;

  constructor(options: ResolvedHttpRetry, clock: Clock, random: () => number = Math.random) {
    this.options = options;
    this.#clock = clock;
    this.#random = random;
    const budget = options.budget;
    if (budget !== undefined) {
      this.#budget = new RetryBudget(budget.ratio, budget.minPerSecond, budget.window);
    }
  }

  /** Records a request that may be retried, for the budget's ratio. */
  deposit(): void {
    this.#budget?.deposit(this.#clock.now());
  }

  /**
   * The wait before the next try after try number `attempt` failed, or `undefined` to give up: when
   * the tries are spent, when the upstream asked (`retryAfterMs`) for longer than `maxDelay`, when
   * `blockedMs` (how long the breaker stays open) outlasts the wait, or when the budget is spent.
   */
  delayAfter(attempt: number, retryAfterMs?: number, blockedMs = 0): number | undefined {
    const o = this.options;
    if (attempt >= o.attempts) return undefined;
    let delay = backoffDelay({ baseDelay: o.baseDelay, maxDelay: o.maxDelay, random: this.#random }, attempt);
    // A wait of zero or less could neither exceed maxDelay nor raise the backoff, which is never negative.
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: see the line above
    if (retryAfterMs !== undefined && retryAfterMs > 0 && Number.isFinite(retryAfterMs)) {
      if (retryAfterMs > o.maxDelay) return undefined;
      delay = Math.max(delay, Math.ceil(retryAfterMs));
    }
    if (blockedMs > delay) return undefined;
    if (this.#budget?.tryWithdraw(this.#clock.now()) === false) return undefined;
    return delay;
  }

  /** What the budget holds now, or `null` without a budget. */
  budget(): RetryBudgetStats | null {
    return this.#budget?.stats(this.#clock.now()) ?? null;
  }
}
