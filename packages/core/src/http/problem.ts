import type { BreakerOpenError, CallTimeoutError } from '../errors.js';
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
  /** The breaker that answered. */
  breaker: string;
  /** Seconds until a retry may succeed (only on 503). */
  retryAfter?: number;
}

const PROBLEM_HEADERS = {
  'content-type': 'application/problem+json',
  'cache-control': 'no-store',
};

/** The `503` for a request a breaker turned away: names the breaker and its retry time, and nothing of the upstream. */
export function openAnswer(error: BreakerOpenError): HttpAnswer {
  const retryAfter = retryAfterSeconds(error.retryAfterMs);
  const busy = rejectionReason(error) === 'half-open-busy';
  const problem: ProblemDetails = {
    type: busy ? 'urn:breaker:problem:half-open-busy' : 'urn:breaker:problem:circuit-open',
    title: busy ? 'Upstream is being probed' : 'Circuit breaker open',
    status: 503,
    detail: busy
      ? `Circuit breaker "${error.breaker}" is testing whether its upstream has recovered; retry in ${retryAfter} s.`
      : `Circuit breaker "${error.breaker}" is open because its upstream is failing; retry in ${retryAfter} s.`,
    breaker: error.breaker,
    retryAfter,
  };
  return {
    status: 503,
    headers: { ...PROBLEM_HEADERS, 'retry-after': String(retryAfter) },
    body: JSON.stringify(problem),
  };
}

/** Why a request was turned away, as a fallback is told: open, or only short of trial (or ramp) capacity. */
export function rejectionReason(error: BreakerOpenError): 'open' | 'half-open-busy' {
  return error.state === 'half-open' || error.state === 'recovering' ? 'half-open-busy' : 'open';
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

/** A `BreakerOpenError` dressed for a framework's own error handling: `status` 503, `expose`, and `Retry-After`. */
export type HttpBreakerOpenError = BreakerOpenError & {
  status: 503;
  statusCode: 503;
  expose: true;
  headers: Record<string, string>;
};

/** Adds `status`, `statusCode`, `expose` and a `Retry-After` header to a rejection, for Express's `next(err)` or Koa's `throw`. */
export function toHttpError(error: BreakerOpenError): HttpBreakerOpenError {
  return Object.assign(error, {
    status: 503 as const,
    statusCode: 503 as const,
    expose: true as const,
    headers: { 'retry-after': String(retryAfterSeconds(error.retryAfterMs)), 'cache-control': 'no-store' },
  });
}
