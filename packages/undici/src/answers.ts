import { CallTimeoutError } from '@breaker/core';
import {
  parseRetryAfter,
  retryAfterSeconds,
  type HttpAnswer,
  type ProblemDetails,
  type Rejection,
} from '@breaker/core/http';

const PROBLEM_HEADERS = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };

/**
 * The proxy's own answers to the client. They name the breaker by the name the proxy was given (or
 * `upstream`), never by its full name, which carries the partner's origin: that stays in events,
 * metrics and the dashboard. Every `Retry-After` they carry is whole seconds, at most `maxTimeout`.
 */
export class ProxyAnswers {
  /** The breaker's name as clients see it. */
  readonly name: string;
  /** Longest wait a `Retry-After` may ask for: the breaker's `maxTimeout`. */
  readonly maxRetryAfterMs: number;

  constructor(name: string, maxRetryAfterMs: number) {
    this.name = name;
    this.maxRetryAfterMs = maxRetryAfterMs;
  }

  /**
   * A partner's `Retry-After` as the gateway sends it on: delay-seconds, an HTTP date turned into the
   * seconds until then, at most `maxTimeout` rounded up to a second; `undefined` for a value that is
   * neither (negative, fractional, garbage), which is dropped.
   */
  retryAfter(value: string | string[] | undefined, now: number): string | undefined {
    const ms = parseRetryAfter(value, now);
    return ms === undefined ? undefined : String(retryAfterSeconds(ms, this.maxRetryAfterMs));
  }

  /** The `503` problem for a request the breaker or the bulkhead turned away. */
  rejected(rejection: Rejection): HttpAnswer {
    return rejection.answer({ name: this.name, maxRetryAfterMs: this.maxRetryAfterMs });
  }

  /** The partner could not be reached, failed before its answer reached the client, or missed `callTimeout`. */
  unavailable(error: unknown): HttpAnswer {
    if (error instanceof CallTimeoutError) {
      return this.#problem(
        504,
        'Upstream timed out',
        `The partner did not answer within ${error.timeoutMs} ms.`,
      );
    }
    return this.#problem(
      502,
      'Upstream unavailable',
      'The partner could not be reached or failed before answering.',
    );
  }

  /** The partner answered `5xx`: its status, and its `Retry-After` if valid, but none of its text. */
  partnerFailed(status: number, retryAfter: string | string[] | undefined, now: number): HttpAnswer {
    const answer = this.#problem(502, 'Upstream failed', `The partner answered ${status}.`);
    const seconds = this.retryAfter(retryAfter, now);
    if (seconds !== undefined) answer.headers['retry-after'] = seconds;
    return answer;
  }

  #problem(status: number, title: string, detail: string): HttpAnswer {
    const problem: ProblemDetails = { type: 'about:blank', title, status, detail, breaker: this.name };
    return { status, headers: { ...PROBLEM_HEADERS }, body: JSON.stringify(problem) };
  }
}

/** The `400` for a request path the proxy will not send on. */
export function badPath(): HttpAnswer {
  const problem = {
    type: 'about:blank',
    title: 'Bad request path',
    status: 400,
    detail: 'The request path is not allowed through this proxy.',
  };
  return { status: 400, headers: { ...PROBLEM_HEADERS }, body: JSON.stringify(problem) };
}
