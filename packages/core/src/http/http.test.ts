import { describe, expect, it } from 'vitest';
import { BreakerOpenError, CallTimeoutError } from '../errors.js';
import { openAnswer, timeoutAnswer, toHttpError } from './problem.js';
import { parseRetryAfter, retryAfterSeconds } from './retryAfter.js';

describe('Retry-After', () => {
  it('is whole seconds, rounded up, and at least 1', () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1_000)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
    expect(retryAfterSeconds(10_000)).toBe(10);
    expect(retryAfterSeconds(Number.NaN)).toBe(1);
  });

  it('parses seconds and HTTP dates, and nothing looser', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter([' 5 '], now)).toBe(5_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('tomorrow', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('problem answers', () => {
  it('the open answer is a 503 problem naming the breaker and its retry time', () => {
    const answer = openAnswer(new BreakerOpenError('payments', 'open', 9_500));
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      'retry-after': '10',
    });
    expect(JSON.parse(answer.body)).toEqual({
      type: 'urn:breaker:problem:circuit-open',
      title: 'Circuit breaker open',
      status: 503,
      detail: 'Circuit breaker "payments" is open because its upstream is failing; retry in 10 s.',
      breaker: 'payments',
      retryAfter: 10,
    });
  });

  it('a busy half-open asks for a retry in 1 s', () => {
    const answer = openAnswer(new BreakerOpenError('payments', 'half-open', 0));
    expect(answer.headers['retry-after']).toBe('1');
    expect(JSON.parse(answer.body).type).toBe('urn:breaker:problem:half-open-busy');
  });

  it('escapes a hostile breaker name as JSON', () => {
    const answer = openAnswer(new BreakerOpenError('"}<script>', 'open', 1_000));
    expect(JSON.parse(answer.body).breaker).toBe('"}<script>');
  });

  it('the timeout answer is a 504 problem without Retry-After', () => {
    const answer = timeoutAnswer(new CallTimeoutError('search', 250));
    expect(answer.status).toBe(504);
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(JSON.parse(answer.body)).toMatchObject({ status: 504, breaker: 'search' });
  });

  it('toHttpError dresses a rejection for framework error handling', () => {
    const error = toHttpError(new BreakerOpenError('payments', 'open', 2_100));
    expect(error).toMatchObject({ status: 503, statusCode: 503, expose: true });
    expect(error.headers['retry-after']).toBe('3');
    expect(error).toBeInstanceOf(BreakerOpenError);
  });
});
