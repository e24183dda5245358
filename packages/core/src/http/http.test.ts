import { describe, expect, it } from 'vitest';
import { BreakerOpenError, CallTimeoutError } from '../errors.js';
import { bulkhead } from '../policies/BulkheadPolicy.js';
import { BulkheadRejectedError } from '../policies/BulkheadRejectedError.js';
import { ManualClock } from '../testing.js';
import { KeyedCache, isBusy, takeSlot } from './bulkhead.js';
import { RetrySchedule, httpRetrySchema, isReplayable, resolveHttpRetry } from './retry.js';
import { Rejection, bulkheadAnswer, openAnswer, timeoutAnswer, toHttpError } from './problem.js';
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

describe('bulkhead answers', () => {
  it('a full bulkhead answers a 503 problem naming it, with its estimate as Retry-After', () => {
    const answer = bulkheadAnswer(new BulkheadRejectedError('partner', 'full', 2_500));
    expect(answer.status).toBe(503);
    expect(answer.headers).toEqual({
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      'retry-after': '3',
    });
    expect(JSON.parse(answer.body)).toEqual({
      type: 'urn:breaker:problem:bulkhead-full',
      title: 'Too many concurrent requests',
      status: 503,
      detail: 'Requests through "partner" are at their limit and no more may wait; retry in 3 s.',
      breaker: 'partner',
      bulkhead: 'partner',
      retryAfter: 3,
    });
  });

  it('a queue timeout says the request waited, and asks for at least 1 s', () => {
    const answer = bulkheadAnswer(new BulkheadRejectedError('partner', 'queue-timeout', 0, 500));
    expect(answer.headers['retry-after']).toBe('1');
    expect(JSON.parse(answer.body).detail).toContain('waited too long');
  });

  it('a Rejection gives the reason, the fallback info, the answer and the framework error of either kind', () => {
    const full = Rejection.of(new BulkheadRejectedError('p', 'full', 1_200))!;
    expect(full.reason).toBe('bulkhead-full');
    expect(full.info()).toMatchObject({ reason: 'bulkhead-full', breaker: 'p', retryAfterMs: 1_200 });
    expect(full.answer().status).toBe(503);
    const error = full.httpError();
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error).toMatchObject({ status: 503, statusCode: 503, expose: true });
    expect(error.headers).toEqual({ 'retry-after': '2', 'cache-control': 'no-store' });

    const busy = Rejection.of(new BreakerOpenError('p', 'recovering', 0))!;
    expect(busy.reason).toBe('half-open-busy');
    expect(JSON.parse(busy.answer().body).type).toBe('urn:breaker:problem:half-open-busy');
    expect(Rejection.of(new Error('other'))).toBeUndefined();
  });
});

describe('bulkhead slots', () => {
  it('takes a free slot at once and frees it exactly once', async () => {
    const limit = bulkhead({ maxConcurrent: 1 });
    const release = takeSlot(limit);
    expect(typeof release).toBe('function');
    expect(isBusy(limit)).toBe(true);
    await expect(takeSlot(limit) as Promise<unknown>).rejects.toBeInstanceOf(BulkheadRejectedError);
    (release as () => void)();
    (release as () => void)();
    await Promise.resolve();
    await Promise.resolve();
    expect(limit.stats()).toMatchObject({ active: 0, admitted: 1, rejected: 1 });
    expect(isBusy(limit)).toBe(false);
  });

  it('hands a freed slot to the queue, and an abort takes a waiter out of it', async () => {
    const clock = new ManualClock();
    const limit = bulkhead({ maxConcurrent: 1, maxQueue: 2, queueTimeout: 1_000, clock });
    const first = takeSlot(limit) as () => void;
    const controller = new AbortController();
    const leaving = takeSlot(limit, controller.signal) as Promise<() => void>;
    const waiting = takeSlot(limit) as Promise<() => void>;
    expect(limit.stats().queued).toBe(2);
    controller.abort(new Error('client left'));
    await expect(leaving).rejects.toThrow('client left');
    expect(limit.stats()).toMatchObject({ queued: 1, aborted: 1 });
    first();
    const second = await waiting;
    expect(limit.stats()).toMatchObject({ active: 1, queued: 0, admitted: 2 });
    expect(clock.pendingTimers).toBe(0);
    second();
  });
});

describe('KeyedCache', () => {
  it('makes a value per key and drops the least recently used idle ones beyond maxSize', () => {
    const busy = new Set<string>();
    const cache = new KeyedCache(
      2,
      (key) => ({ key }),
      (value) => busy.has(value.key),
    );
    const a = cache.get('a');
    cache.get('b');
    expect(cache.get('a')).toBe(a);
    cache.get('c');
    expect(cache.size).toBe(2);
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')).toBe(a);
    busy.add('a');
    busy.add('c');
    cache.get('d');
    // Every older key is busy: none can go yet, so the cache holds one more than maxSize.
    expect(cache.size).toBe(3);
    busy.clear();
    cache.get('e');
    expect(cache.size).toBe(2);
    expect([cache.peek('d'), cache.peek('e')].every(Boolean)).toBe(true);
  });
});

describe('HTTP retry', () => {
  const retry = (options: object = {}) => resolveHttpRetry(httpRetrySchema.parse(options), 'test');

  it('replays idempotent methods, or any with an Idempotency-Key, whose body can be sent again', () => {
    const o = retry();
    for (const method of ['GET', 'head', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']) {
      expect(isReplayable(o, method, undefined, undefined), method).toBe(true);
    }
    expect(isReplayable(o, 'POST', {}, 'x')).toBe(false);
    expect(isReplayable(o, 'PATCH', null, null)).toBe(false);
    for (const headers of [
      { 'Idempotency-Key': 'k' },
      ['idempotency-key', 'k'],
      [['Idempotency-Key', 'k']],
      new Headers({ 'idempotency-key': 'k' }),
      new Map([['idempotency-key', 'k']]),
    ]) {
      expect(isReplayable(o, 'POST', headers, Buffer.from('x'))).toBe(true);
    }
    expect(isReplayable(o, 'POST', { 'idempotency-key': undefined }, 'x')).toBe(false);
    expect(isReplayable(o, 'POST', ['x-idempotency-key', 'k'], 'x')).toBe(false);
    expect(isReplayable(o, 'PUT', {}, new Uint8Array(2))).toBe(true);
    for (const body of [new ReadableStream(), (async function* () {})(), new FormData(), new Blob(['x'])]) {
      expect(isReplayable(o, 'GET', {}, body)).toBe(false);
    }
    expect(isReplayable(retry({ methods: ['post'] }), 'POST', {}, 'x')).toBe(true);
    expect(isReplayable(retry({ methods: ['post'] }), 'GET', {}, undefined)).toBe(false);
  });

  it('gives up when the tries are spent, the upstream asks for too long, the breaker stays open, or the budget is spent', () => {
    const clock = new ManualClock();
    const schedule = new RetrySchedule(
      retry({ attempts: 3, baseDelay: 100, maxDelay: 1_000, budget: { ratio: 0, minPerSecond: 1 } }),
      clock,
      () => 0.5,
    );
    schedule.deposit();
    expect(schedule.delayAfter(3)).toBeUndefined();
    expect(schedule.delayAfter(1, 1_001)).toBeUndefined();
    expect(schedule.delayAfter(1, 600, 700)).toBeUndefined();
    expect(schedule.delayAfter(2)).toBe(100);
    expect(schedule.budget()).toEqual({ calls: 1, available: 0 });
    expect(schedule.delayAfter(1, 600)).toBeUndefined();
    clock.advance(1_000);
    expect(schedule.delayAfter(1, 600, 600)).toBe(600);
  });

  it('checks maxDelay against baseDelay, naming the nested option', () => {
    expect(() => retry({ baseDelay: 200, maxDelay: 100 })).toThrow(/"retry\.maxDelay"/);
    expect(retry({ baseDelay: 20_000 }).maxDelay).toBe(20_000);
    expect(retry({ budget: false }).budget).toBeUndefined();
  });
});
