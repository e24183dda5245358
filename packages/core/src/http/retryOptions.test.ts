import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing.js';
import { resolveHttpPolicies } from './options.js';
import { DEFAULT_RETRY_METHODS, RetrySchedule, isReplayable, type ResolvedHttpRetry } from './retry.js';

const context = 'breakerInterceptor() from @breaker/undici';
const retryOf = (retry: unknown): ResolvedHttpRetry => resolveHttpPolicies({ retry }, context).retry!;
const messageOf = (retry: unknown): string => {
  try {
    retryOf(retry);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('the retry option', () => {
  it('fills in three tries, 100 ms to 10 s of backoff, the default budget and the idempotent methods', () => {
    expect(retryOf({})).toEqual({
      attempts: 3,
      baseDelay: 100,
      maxDelay: 10_000,
      budget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
      methods: new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']),
    });
    expect(DEFAULT_RETRY_METHODS).toEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
    expect(Object.isFrozen(DEFAULT_RETRY_METHODS)).toBe(true);
    expect(resolveHttpPolicies({}, context).retry).toBeUndefined();
  });

  it('keeps what is given, with method names upper-cased and budget fields filled one by one', () => {
    expect(
      retryOf({ attempts: 5, baseDelay: 50, maxDelay: 50, budget: { ratio: 0.5 }, methods: ['get', 'Post'] }),
    ).toEqual({
      attempts: 5,
      baseDelay: 50,
      maxDelay: 50,
      budget: { ratio: 0.5, minPerSecond: 10, window: 10_000 },
      methods: new Set(['GET', 'POST']),
    });
    expect(retryOf({ budget: { minPerSecond: 2, window: 1_000 } }).budget).toEqual({
      ratio: 0.2,
      minPerSecond: 2,
      window: 1_000,
    });
    expect(retryOf({ budget: false }).budget).toBeUndefined();
  });

  it('raises the default maxDelay to a larger baseDelay', () => {
    expect(retryOf({ baseDelay: 30_000 })).toMatchObject({ baseDelay: 30_000, maxDelay: 30_000 });
    expect(retryOf({ baseDelay: 9_000 }).maxDelay).toBe(10_000);
  });

  it('names a maxDelay below baseDelay, with the baseDelay it must reach', () => {
    expect(messageOf({ baseDelay: 200, maxDelay: 199 })).toMatchInlineSnapshot(
      `"Invalid breakerInterceptor() from @breaker/undici option "retry.maxDelay": expected at least \`retry.baseDelay\` (200); received 199."`,
    );
  });

  it('asks for method names as an array of tokens', () => {
    const expected =
      'Invalid breakerInterceptor() from @breaker/undici option "retry.methods": expected an array of HTTP method names, such as ["GET", "PUT"]';
    expect(messageOf({ methods: 'GET' })).toContain(expected);
    expect(messageOf({ methods: ['GET', 'NOT A METHOD'] })).toContain(
      expected.replace('methods"', 'methods.1"'),
    );
    expect(messageOf({ methods: [7] })).toContain(expected.replace('methods"', 'methods.0"'));
    expect(retryOf({ methods: ["M-SEARCH!#$%&'*+.^_`|~"] }).methods).toEqual(
      new Set(["M-SEARCH!#$%&'*+.^_`|~"]),
    );
  });

  it('describes the whole option when it is not an object', () => {
    expect(messageOf(3)).toMatchInlineSnapshot(
      `"Invalid breakerInterceptor() from @breaker/undici option "retry": expected an object { attempts, baseDelay, maxDelay, budget, methods }; received 3."`,
    );
  });

  it("points other libraries' field names to its own", () => {
    expect(messageOf({ maxAttempts: 3 })).toContain('`retry.attempts` (tries in all, the first included)');
    expect(messageOf({ retries: 2 })).toContain(
      '`retry.attempts` (tries in all, the first included: retries + 1)',
    );
    expect(messageOf({ maxRetries: 2 })).toContain(
      '`retry.attempts` (tries in all, the first included: retries + 1)',
    );
    expect(messageOf({ minTimeout: 1 })).toContain('`retry.baseDelay`');
    expect(messageOf({ initialDelay: 1 })).toContain('`retry.baseDelay`');
    expect(messageOf({ maxTimeout: 1 })).toContain('`retry.maxDelay`');
    expect(messageOf({ method: ['GET'] })).toContain('`retry.methods`');
  });
});

describe('which requests may be sent again', () => {
  const retry = { methods: new Set(['GET']) };

  it('reads an Idempotency-Key only from header names, never from values', () => {
    expect(isReplayable(retry, 'POST', ['x-trace', 'idempotency-key'], 'x')).toBe(false);
    expect(isReplayable(retry, 'POST', ['x-trace', 'a', 'IDEMPOTENCY-KEY', 'k'], 'x')).toBe(true);
    expect(isReplayable(retry, 'POST', [['x-trace', 'idempotency-key']], 'x')).toBe(false);
    expect(
      isReplayable(
        retry,
        'POST',
        [
          ['x-trace', 'a'],
          ['Idempotency-Key', 'k'],
        ],
        'x',
      ),
    ).toBe(true);
    expect(isReplayable(retry, 'POST', new Map([['x-trace', 'idempotency-key']]), 'x')).toBe(false);
    expect(isReplayable(retry, 'POST', new Set(['idempotency-key']), 'x')).toBe(false);
    expect(isReplayable(retry, 'POST', new Headers({ 'x-trace': 'idempotency-key' }), 'x')).toBe(false);
    expect(isReplayable(retry, 'POST', [7, 'idempotency-key'], 'x')).toBe(false);
  });

  it('finds no key in headers that are not an object', () => {
    expect(isReplayable(retry, 'POST', 'idempotency-key: k', 'x')).toBe(false);
    expect(isReplayable(retry, 'POST', null, 'x')).toBe(false);
    const headerFactory = Object.assign(() => ({}), { 'idempotency-key': 'k' });
    expect(isReplayable(retry, 'POST', headerFactory, 'x')).toBe(false);
    expect(isReplayable(retry, 'POST', { 'idempotency-key': 'k' }, 'x')).toBe(true);
  });

  it('never replays a body that can be read only once, even with a key', () => {
    expect(isReplayable(retry, 'POST', { 'idempotency-key': 'k' }, new ReadableStream())).toBe(false);
    expect(isReplayable(retry, 'GET', undefined, null)).toBe(true);
    expect(isReplayable(retry, 'get', undefined, '')).toBe(true);
  });
});

describe('the backoff between tries', () => {
  const schedule = (retry: object, random = () => 0.5) =>
    new RetrySchedule(retryOf({ budget: false, ...retry }), new ManualClock(), random);

  it('draws under a cap that doubles from baseDelay up to maxDelay, until the tries are spent', () => {
    const s = schedule({ attempts: 5, baseDelay: 100, maxDelay: 300 }, () => 0.99);
    expect([1, 2, 3, 4, 5].map((attempt) => s.delayAfter(attempt))).toEqual([99, 198, 297, 297, undefined]);
  });

  it('waits at least what the upstream asked for, rounded up to the millisecond, up to maxDelay', () => {
    const s = schedule({ baseDelay: 100, maxDelay: 1_000 });
    expect(s.delayAfter(1, 400.2)).toBe(401);
    expect(s.delayAfter(1, 1_000)).toBe(1_000);
    expect(s.delayAfter(1, 1_000.5)).toBeUndefined();
    expect(s.delayAfter(1, 10)).toBe(50);
  });

  it('ignores a Retry-After of zero, or one that is not a finite number', () => {
    const s = schedule({ baseDelay: 100, maxDelay: 1_000 });
    for (const asked of [0, -5, Number.POSITIVE_INFINITY, Number.NaN])
      expect(s.delayAfter(1, asked)).toBe(50);
  });

  it('gives up when the breaker stays open longer than the wait, and not when it reopens in time', () => {
    const s = schedule({ baseDelay: 100, maxDelay: 1_000 });
    expect(s.delayAfter(1, 300, 301)).toBeUndefined();
    expect(s.delayAfter(1, 300, 300)).toBe(300);
    expect(s.delayAfter(1, undefined, 51)).toBeUndefined();
    expect(s.delayAfter(1, undefined, 50)).toBe(50);
  });

  it('has no budget to show, or to spend, when the budget is off', () => {
    const s = schedule({ attempts: 10 });
    s.deposit();
    expect(s.budget()).toBeNull();
    for (let attempt = 1; attempt < 10; attempt++) expect(s.delayAfter(attempt)).toBeDefined();
  });

  it('counts requests into the budget at the clock time, and spends it per retry', () => {
    const clock = new ManualClock();
    const s = new RetrySchedule(
      retryOf({ budget: { ratio: 0.5, minPerSecond: 0, window: 1_000 } }),
      clock,
      () => 0,
    );
    s.deposit();
    s.deposit();
    expect(s.budget()).toEqual({ calls: 2, available: 1 });
    expect(s.delayAfter(1)).toBe(0);
    expect(s.delayAfter(1)).toBeUndefined();
    clock.advance(1_000);
    expect(s.budget()).toEqual({ calls: 0, available: 0 });
  });
});
