import { describe, expect, it } from 'vitest';
import { BreakerOpenError, CallTimeoutError } from '../errors.js';
import { BulkheadRejectedError } from '../policies/BulkheadRejectedError.js';
import { Rejection, bulkheadAnswer, openAnswer, rejectionReason, timeoutAnswer } from './problem.js';
import { parseRetryAfter, retryAfterSeconds } from './retryAfter.js';

const bodyOf = (answer: { body: string }): unknown => JSON.parse(answer.body);

describe('the open answer', () => {
  it('tells a busy trial apart: its own type, title and detail', () => {
    const answer = openAnswer(new BreakerOpenError('ledger', 'half-open', 3_000));
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      'retry-after': '3',
    });
    expect(bodyOf(answer)).toEqual({
      type: 'urn:breaker:problem:half-open-busy',
      title: 'Upstream is being probed',
      status: 503,
      detail: 'Circuit breaker "ledger" is testing whether its upstream has recovered; retry in 3 s.',
      breaker: 'ledger',
      retryAfter: 3,
    });
  });

  it('gives the name and the longest wait the view asks for', () => {
    const answer = openAnswer(new BreakerOpenError('10.0.0.7:8443', 'open', 60_000), {
      name: 'inventory',
      maxRetryAfterMs: 5_000,
    });
    expect(answer.headers['retry-after']).toBe('5');
    expect(bodyOf(answer)).toMatchObject({
      breaker: 'inventory',
      retryAfter: 5,
      detail: 'Circuit breaker "inventory" is open because its upstream is failing; retry in 5 s.',
    });
  });

  it('is shared, frozen, by requests turned away in the same second by the same breaker', () => {
    const first = openAnswer(new BreakerOpenError('catalog', 'open', 4_200));
    const again = openAnswer(new BreakerOpenError('catalog', 'open', 4_900));
    expect(again).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.headers)).toBe(true);
  });

  it('is made anew when the breaker, the wait or the kind of rejection changes', () => {
    const open = openAnswer(new BreakerOpenError('catalog', 'open', 4_000));
    const otherBreaker = openAnswer(new BreakerOpenError('orders', 'open', 4_000));
    expect(bodyOf(otherBreaker)).toMatchObject({ breaker: 'orders' });
    const back = openAnswer(new BreakerOpenError('catalog', 'open', 4_000));
    expect(back).not.toBe(open);
    expect(bodyOf(back)).toEqual(bodyOf(open));
    const later = openAnswer(new BreakerOpenError('catalog', 'open', 3_000));
    expect(later.headers['retry-after']).toBe('3');
    const busy = openAnswer(new BreakerOpenError('catalog', 'half-open', 3_000));
    expect(bodyOf(busy)).toMatchObject({ type: 'urn:breaker:problem:half-open-busy' });
    const openAgain = openAnswer(new BreakerOpenError('catalog', 'open', 3_000));
    expect(bodyOf(openAgain)).toMatchObject({ type: 'urn:breaker:problem:circuit-open' });
  });

  it('counts a ramping breaker short of capacity as busy, and a forced-open one as open', () => {
    expect(rejectionReason(new BreakerOpenError('a', 'recovering', 0))).toBe('half-open-busy');
    expect(rejectionReason(new BreakerOpenError('a', 'half-open', 0))).toBe('half-open-busy');
    expect(rejectionReason(new BreakerOpenError('a', 'forced-open', 0))).toBe('open');
    expect(rejectionReason(new BreakerOpenError('a', 'open', 0))).toBe('open');
  });
});

describe('the full bulkhead answer', () => {
  it('tells a request that waited too long, with the whole document', () => {
    const answer = bulkheadAnswer(new BulkheadRejectedError('partner', 'queue-timeout', 4_001, 500));
    expect(bodyOf(answer)).toEqual({
      type: 'urn:breaker:problem:bulkhead-full',
      title: 'Too many concurrent requests',
      status: 503,
      detail:
        'Requests through "partner" are at their limit and this one waited too long for its turn; retry in 5 s.',
      breaker: 'partner',
      bulkhead: 'partner',
      retryAfter: 5,
    });
  });

  it('gives the name and the longest wait the view asks for', () => {
    const answer = bulkheadAnswer(new BulkheadRejectedError('10.0.0.7', 'full', 30_000), {
      name: 'search',
      maxRetryAfterMs: 2_000,
    });
    expect(answer.headers['retry-after']).toBe('2');
    expect(bodyOf(answer)).toMatchObject({ breaker: 'search', bulkhead: 'search', retryAfter: 2 });
  });
});

describe('the timeout answer', () => {
  it('is a 504 problem document saying how long the breaker waited', () => {
    const answer = timeoutAnswer(new CallTimeoutError('search', 250));
    expect(answer).toEqual({
      status: 504,
      headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
      body: expect.any(String),
    });
    expect(bodyOf(answer)).toEqual({
      type: 'urn:breaker:problem:call-timeout',
      title: 'Upstream timed out',
      status: 504,
      detail: 'Circuit breaker "search" gave up waiting after 250 ms.',
      breaker: 'search',
    });
  });
});

describe('a rejection', () => {
  it('of an open breaker names the breaker and tells the fallback the wait and the error', () => {
    const error = new BreakerOpenError('payments', 'open', 7_000);
    const rejection = Rejection.of(error)!;
    expect(rejection.name).toBe('payments');
    expect(rejection.info()).toEqual({ reason: 'open', breaker: 'payments', retryAfterMs: 7_000, error });
    expect(bodyOf(rejection.answer({ name: 'pay' }))).toMatchObject({ breaker: 'pay', retryAfter: 7 });
    expect(rejection.httpError()).toBe(error);
    expect(error).toMatchObject({ status: 503, statusCode: 503, expose: true });
  });

  it('of a full bulkhead names the bulkhead and answers under the view', () => {
    const error = new BulkheadRejectedError('reports', 'full', 0);
    const rejection = new Rejection(error);
    expect(rejection.name).toBe('reports');
    expect(rejection.info()).toEqual({ reason: 'bulkhead-full', breaker: 'reports', retryAfterMs: 0, error });
    expect(bodyOf(rejection.answer({ name: 'r' }))).toMatchObject({ bulkhead: 'r', retryAfter: 1 });
  });

  it('dressed for the framework keeps the error and adds the retry headers', () => {
    const error = new Rejection(new BulkheadRejectedError('reports', 'full', 12_345)).httpError();
    expect(error.headers).toEqual({ 'retry-after': '13', 'cache-control': 'no-store' });
  });
});

describe('Retry-After bounds', () => {
  it('caps a wait at maxMs, and any wait at 2^31 seconds', () => {
    expect(retryAfterSeconds(60_000, 2_500)).toBe(3);
    expect(retryAfterSeconds(1_000_000, Number.NaN)).toBe(1);
    expect(retryAfterSeconds(1e30)).toBe(2_147_483_648);
    expect(retryAfterSeconds(2_147_483_649_000)).toBe(2_147_483_648);
    expect(retryAfterSeconds(Number.POSITIVE_INFINITY)).toBe(1);
  });

  it('takes only the first of repeated headers, and only a whole HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseRetryAfter(['7', '60'], now)).toBe(7_000);
    expect(parseRetryAfter([], now)).toBeUndefined();
    expect(parseRetryAfter('12 ', now)).toBe(12_000);
    expect(parseRetryAfter('x 12', now)).toBeUndefined();
    expect(parseRetryAfter('12x', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT extra', now)).toBeUndefined();
    expect(parseRetryAfter('extra Thu, 01 Jan 2026 12:00:30 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 UTC', now)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT+0100', now)).toBeUndefined();
    expect(parseRetryAfter('Xyz, 99 Abc 2026 99:99:99 GMT', now)).toBeUndefined();
  });
});
