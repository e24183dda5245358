import { BreakerOpenError, type CallTimeoutError } from '../errors.js';
import { BulkheadRejectedError } from '../policies/BulkheadRejectedError.js';
import type { FallbackInfo } from './options.js';
import { retryAfterSeconds } from './retryAfter.js';

/** An HTTP answer a breaker gives in the handler's place. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  /** An RFC 9457 `application/problem+json` document. */
  body: string;
}

/** The RFC 9457 problem document in a breaker's answers. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The breaker that answered (for a full bulkhead, the breaker whose requests it limits). */
  breaker: string;
  /** The bulkhead that turned the request away (only for `urn:breaker:problem:bulkhead-full`). */
  bulkhead?: string;
  /** Seconds until a retry may succeed (only on 503). */
  retryAfter?: number;
}

/**
 * How an answer shows its breaker to the client: under another name (a gateway's breakers are often
 * named after an internal address), and with `Retry-After` at most `maxRetryAfterMs`.
 */
export interface AnswerView {
  /** The name the answer gives, in place of the breaker's or bulkhead's own. */
  name?: string;
  /** Longest wait the answer asks for, in milliseconds (default: no limit). */
  maxRetryAfterMs?: number;
}

const PROBLEM_HEADERS = {
  'content-type': 'application/problem+json',
  'cache-control': 'no-store',
};

/**
 * The last open answer made. While a breaker stays open its answer changes once a second at most (the
 * `Retry-After` counts down), so a storm of rejected requests shares one: frozen, as every adapter only
 * reads it.
 */
let lastOpen: { breaker: string; busy: boolean; retryAfter: number; answer: HttpAnswer } | undefined;

/** The `503` for a request a breaker turned away: names the breaker and its retry time, and nothing of the upstream. */
export function openAnswer(error: BreakerOpenError, view: AnswerView = {}): HttpAnswer {
  const retryAfter = retryAfterSeconds(error.retryAfterMs, view.maxRetryAfterMs);
  const breaker = view.name ?? error.breaker;
  const busy = rejectionReason(error) === 'half-open-busy';
  const last = lastOpen;
  if (
    last !== undefined &&
    last.retryAfter === retryAfter &&
    last.breaker === breaker &&
    last.busy === busy
  ) {
    return last.answer;
  }
  const problem: ProblemDetails = {
    type: busy ? 'urn:breaker:problem:half-open-busy' : 'urn:breaker:problem:circuit-open',
    title: busy ? 'Upstream is being probed' : 'Circuit breaker open',
    status: 503,
    detail: busy
      ? `Circuit breaker "${breaker}" is testing whether its upstream has recovered; retry in ${retryAfter} s.`
      : `Circuit breaker "${breaker}" is open because its upstream is failing; retry in ${retryAfter} s.`,
    breaker,
    retryAfter,
  };
  const answer: HttpAnswer = Object.freeze({
    status: 503,
    headers: Object.freeze({ ...PROBLEM_HEADERS, 'retry-after': String(retryAfter) }),
    body: JSON.stringify(problem),
  });
  lastOpen = { breaker, busy, retryAfter, answer };
  return answer;
}

/** Why a request was turned away, as a fallback is told: open, or only short of trial (or ramp) capacity. */
export function rejectionReason(error: BreakerOpenError): 'open' | 'half-open-busy' {
  return error.state === 'half-open' || error.state === 'recovering' ? 'half-open-busy' : 'open';
}

/**
 * The `503` for a request a full bulkhead turned away: names the bulkhead (which takes its breaker's
 * name) and the estimated wait, and nothing of the upstream or of the limits.
 */
export function bulkheadAnswer(error: BulkheadRejectedError, view: AnswerView = {}): HttpAnswer {
  const retryAfter = retryAfterSeconds(error.retryAfterMs, view.maxRetryAfterMs);
  const bulkhead = view.name ?? error.bulkhead;
  const problem: ProblemDetails = {
    type: 'urn:breaker:problem:bulkhead-full',
    title: 'Too many concurrent requests',
    status: 503,
    detail:
      error.reason === 'queue-timeout'
        ? `Requests through "${bulkhead}" are at their limit and this one waited too long for its turn; retry in ${retryAfter} s.`
        : `Requests through "${bulkhead}" are at their limit and no more may wait; retry in ${retryAfter} s.`,
    breaker: bulkhead,
    bulkhead,
    retryAfter,
  };
  return {
    status: 503,
    headers: { ...PROBLEM_HEADERS, 'retry-after': String(retryAfter) },
    body: JSON.stringify(problem),
  };
}

/** Why a request was turned away before reaching its handler. */
export type RejectionReason = 'open' | 'half-open-busy' | 'bulkhead-full';

/**
 * A request turned away before its handler: by the breaker (open, or its trial permits busy) or by a
 * full bulkhead. It gives the `503` problem answer, what a fallback is told, and the error for a
 * framework's own error handling.
 */
export class Rejection {
  readonly reason: RejectionReason;
  readonly error: BreakerOpenError | BulkheadRejectedError;

  constructor(error: BreakerOpenError | BulkheadRejectedError) {
    this.error = error;
    this.reason = error instanceof BreakerOpenError ? rejectionReason(error) : 'bulkhead-full';
  }

  /** `error` as a rejection, or `undefined` when it is neither a `BreakerOpenError` nor a `BulkheadRejectedError`. */
  static of(error: unknown): Rejection | undefined {
    return error instanceof BreakerOpenError || error instanceof BulkheadRejectedError
      ? new this(error)
      : undefined;
  }

  /** Name of the breaker, or of the bulkhead, that turned the request away. */
  get name(): string {
    const error = this.error;
    return error instanceof BulkheadRejectedError ? error.bulkhead : error.breaker;
  }

  /** What a fallback is told. */
  info(): FallbackInfo {
    return {
      reason: this.reason,
      breaker: this.name,
      retryAfterMs: this.error.retryAfterMs,
      error: this.error,
    };
  }

  /** The `503` problem answer, shown as `view` says. */
  answer(view?: AnswerView): HttpAnswer {
    const error = this.error;
    return error instanceof BulkheadRejectedError ? bulkheadAnswer(error, view) : openAnswer(error, view);
  }

  /** The error dressed for `next(err)` or Koa's `throw`: see {@link toHttpError}. */
  httpError(): HttpRejectionError {
    return toHttpError(this.error);
  }
}

/** The `504` for a request whose handler did not answer within `callTimeout`. */
export function timeoutAnswer(error: CallTimeoutError): HttpAnswer {
  const problem: ProblemDetails = {
    type: 'urn:breaker:problem:call-timeout',
    title: 'Upstream timed out',
    status: 504,
    detail: `Circuit breaker "${error.breaker}" gave up waiting after ${error.timeoutMs} ms.`,
    breaker: error.breaker,
  };
  return { status: 504, headers: { ...PROBLEM_HEADERS }, body: JSON.stringify(problem) };
}

/** What {@link toHttpError} adds to a rejection. */
export interface HttpErrorFields {
  status: 503;
  statusCode: 503;
  expose: true;
  headers: Record<string, string>;
}

/** A `BreakerOpenError` dressed for a framework's own error handling: `status` 503, `expose`, and `Retry-After`. */
export type HttpBreakerOpenError = BreakerOpenError & HttpErrorFields;

/** A rejection of either kind dressed for a framework's own error handling. */
export type HttpRejectionError = (BreakerOpenError | BulkheadRejectedError) & HttpErrorFields;

/**
 * Adds `status`, `statusCode`, `expose` and the `Retry-After` and `Cache-Control: no-store` headers to a
 * rejection (a `BreakerOpenError` or a `BulkheadRejectedError`), for Express's `next(err)` or Koa's `throw`.
 */
export function toHttpError<E extends BreakerOpenError | BulkheadRejectedError>(
  error: E,
): E & HttpErrorFields {
  const fields: HttpErrorFields = {
    status: 503,
    statusCode: 503,
    expose: true,
    headers: { 'retry-after': String(retryAfterSeconds(error.retryAfterMs)), 'cache-control': 'no-store' },
  };
  return Object.assign(error, fields);
}
