import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { BreakerRegistry } from '../registry.js';
import { ManualClock } from '../testing.js';
import { HttpGuard } from './guard.js';
import { Rejection } from './problem.js';

const CONTEXT = 'circuitBreaker() from a test';

function messageOf(options: unknown): string {
  try {
    new HttpGuard(options as never, CONTEXT);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as Error).message;
  }
  throw new Error('expected the options to be rejected');
}

describe('HTTP options', () => {
  it('default to one breaker named http, answering rejections itself, counting 5xx', () => {
    const { options } = new HttpGuard(undefined, CONTEXT);
    expect(options).toMatchObject({ name: 'http', key: undefined, onReject: 'respond', bulkhead: undefined });
    expect(options.registry).toBeInstanceOf(BreakerRegistry);
    expect(options.registry.maxSize).toBe(1_000);
    expect(
      [499, 500, 503].map((status) => options.isFailure({ status, error: undefined, durationMs: 0 })),
    ).toEqual([false, true, true]);
  });

  it('keep the breaker`s own options apart, and a maxKeys for their own registry', () => {
    const { options } = new HttpGuard(
      { name: 'p', maxKeys: 5, failureThreshold: 2, callTimeout: 100 },
      CONTEXT,
    );
    expect(options.registry.maxSize).toBe(5);
    expect(options.breakerOptions).toEqual({ failureThreshold: 2, callTimeout: 100 });
  });

  it('keep the registry, isFailure and onReject given', () => {
    const registry = new BreakerRegistry();
    const isFailure = () => true;
    const { options } = new HttpGuard({ registry, isFailure, onReject: 'error' }, CONTEXT);
    expect(options.registry).toBe(registry);
    expect(options.isFailure).toBe(isFailure);
    expect(options.onReject).toBe('error');
    expect(new HttpGuard({ onReject: 'respond' }, CONTEXT).options.onReject).toBe('respond');
  });

  it('turn down null in place of the options object, naming the options as the culprit', () => {
    expect(messageOf(null)).toBe('circuitBreaker() from a test options must be an object; received null.');
    expect(() => new HttpGuard(null as never, CONTEXT)).toThrow(
      expect.objectContaining({ option: 'options' }),
    );
  });

  it('check the name before the other options', () => {
    expect(messageOf({ name: '', key: 'tenant' })).toBe(
      'Invalid circuitBreaker() from a test option "name": expected a non-empty string; received "".',
    );
    expect(messageOf({ name: 7, key: 'tenant' })).toBe(
      'Invalid circuitBreaker() from a test option "name": expected a non-empty string; received 7.',
    );
  });

  it('take a maxKeys of 1', () => {
    expect(new HttpGuard({ maxKeys: 1 }, CONTEXT).options.registry.maxSize).toBe(1);
  });

  it('name keyed breakers name:key, and share one breaker per key', () => {
    const guard = new HttpGuard<{ tenant: string }>({ name: 'api', key: (req) => req.tenant }, CONTEXT);
    expect(guard.nameFor({ tenant: 'a' })).toBe('api:a');
    expect(guard.breakerFor({ tenant: 'a' })).toBe(guard.breakerFor({ tenant: 'a' }));
    expect(guard.breakerFor({ tenant: 'b' }).name).toBe('api:b');
  });

  it('turn a request away while its breaker is open, with the rejection and its answer', async () => {
    const clock = new ManualClock();
    const guard = new HttpGuard({ name: 'p', clock, failureThreshold: 1, timeout: 3_000 }, CONTEXT);
    await guard
      .breakerFor({})
      .fire(() => Promise.reject(new Error('down')))
      .catch(() => {});
    const entry = guard.enter({}, {} as never);
    expect(entry).toBeInstanceOf(Rejection);
    const rejection = entry as Rejection;
    expect(rejection.reason).toBe('open');
    expect(rejection.answer()).toMatchObject({ status: 503, headers: { 'retry-after': '3' } });
  });

  it('name what is wrong with each of them', () => {
    expect({
      'not an object': messageOf('fast'),
      'an array': messageOf([]),
      name: messageOf({ name: '' }),
      key: messageOf({ key: 'tenant' }),
      isFailure: messageOf({ isFailure: 500 }),
      fallback: messageOf({ fallback: {} }),
      registry: messageOf({ registry: {} }),
      maxKeys: messageOf({ maxKeys: 0 }),
      'maxKeys fractional': messageOf({ maxKeys: 1.5 }),
      'maxKeys with a registry': messageOf({ maxKeys: 5, registry: new BreakerRegistry() }),
      onReject: messageOf({ onReject: 'throw' }),
      'a breaker option': messageOf({ failureThreshold: 0 }),
      'an unknown option': messageOf({ fallbak: () => {} }),
      'a bulkhead option': messageOf({ bulkhead: { maxConcurrent: 0 } }),
    }).toMatchInlineSnapshot(`
      {
        "a breaker option": "Invalid circuitBreaker() from a test option "failureThreshold": expected a whole number of at least 1; received 0.",
        "a bulkhead option": "Invalid circuitBreaker() from a test option "bulkhead.maxConcurrent": expected a whole number of at least 1; received 0.",
        "an array": "circuitBreaker() from a test options must be an object; received an array.",
        "an unknown option": "Unknown circuitBreaker() from a test option "fallbak". Did you mean \`fallback\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState, key, registry, maxKeys, onReject, fallback, bulkhead.",
        "fallback": "Invalid circuitBreaker() from a test option "fallback": expected a function; received an object.",
        "isFailure": "Invalid circuitBreaker() from a test option "isFailure": expected a function; received 500.",
        "key": "Invalid circuitBreaker() from a test option "key": expected a function; received "tenant".",
        "maxKeys": "Invalid circuitBreaker() from a test option "maxKeys": expected a whole number of at least 1; received 0.",
        "maxKeys fractional": "Invalid circuitBreaker() from a test option "maxKeys": expected a whole number of at least 1; received 1.5.",
        "maxKeys with a registry": "Invalid circuitBreaker() from a test option "maxKeys": expected no value when \`registry\` is given (set the registry\`s maxSize); received 5.",
        "name": "Invalid circuitBreaker() from a test option "name": expected a non-empty string; received "".",
        "not an object": "circuitBreaker() from a test options must be an object; received "fast".",
        "onReject": "Invalid circuitBreaker() from a test option "onReject": expected "respond" or "error"; received "throw".",
        "registry": "Invalid circuitBreaker() from a test option "registry": expected a BreakerRegistry; received an object.",
      }
    `);
  });
});
