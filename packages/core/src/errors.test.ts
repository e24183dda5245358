import { describe, expect, it } from 'vitest';
import { BreakerError, BreakerOpenError, CallTimeoutError, InvalidOptionError, rejection } from './errors.js';

describe('errors', () => {
  it('carry a stable code and name', () => {
    const open = new BreakerOpenError('payments', 'open', 2_500);
    expect(open).toMatchObject({ code: 'BREAKER_OPEN', name: 'BreakerOpenError', breaker: 'payments' });
    expect(open.message).toBe('Circuit breaker "payments" is open; retry in 3 s');
    const timeout = new CallTimeoutError('payments', 500);
    expect(timeout).toMatchObject({ code: 'BREAKER_TIMEOUT', name: 'CallTimeoutError', timeoutMs: 500 });
    expect(String(timeout)).toBe(
      'CallTimeoutError: Call through circuit breaker "payments" timed out after 500 ms',
    );
  });

  it('instanceof tells the classes apart', () => {
    const open = new BreakerOpenError('a', 'open', 1);
    expect(open).toBeInstanceOf(BreakerOpenError);
    expect(open).toBeInstanceOf(BreakerError);
    expect(open).toBeInstanceOf(Error);
    expect(open).not.toBeInstanceOf(CallTimeoutError);
    expect(new Error('x')).not.toBeInstanceOf(BreakerError);
    expect(null).not.toBeInstanceOf(BreakerError);
    expect(new InvalidOptionError('x', 'bad')).toBeInstanceOf(TypeError);
  });

  it('instanceof holds for an error made by another copy of the package', () => {
    // What a second copy would make: same brand and code, another prototype chain.
    const foreign = Object.assign(new Error('Circuit breaker "x" is open'), { code: 'BREAKER_OPEN' });
    Object.defineProperty(foreign, Symbol.for('@breaker/core/error'), { value: true });
    expect(foreign).toBeInstanceOf(BreakerOpenError);
    expect(foreign).toBeInstanceOf(BreakerError);
    expect(foreign).not.toBeInstanceOf(CallTimeoutError);
  });

  it('the half-open message still says open', () => {
    expect(new BreakerOpenError('a', 'half-open', 0).message).toMatch(/open/);
    expect(new BreakerOpenError('a', 'forced-open', 10_000).message).toMatch(/forced open/);
  });

  it('a rejection reads as a full error: message, stack, String, copies, and a message others may rewrite', () => {
    const open = new BreakerOpenError('partner', 'open', 1_500);
    expect(open.message).toBe('Circuit breaker "partner" is open; retry in 2 s');
    expect(String(open)).toBe('BreakerOpenError: Circuit breaker "partner" is open; retry in 2 s');
    expect(open.stack?.split('\n')[0]).toBe(
      'BreakerOpenError: Circuit breaker "partner" is open; retry in 2 s',
    );
    // Copies keep it: a worker's postMessage or structuredClone, and a JSON log line.
    expect(structuredClone(open).message).toBe(open.message);
    expect(JSON.parse(JSON.stringify(open))).toMatchObject({
      name: 'BreakerOpenError',
      code: 'BREAKER_OPEN',
    });
    // A library that prefixes messages, as some loggers do.
    open.message = `[gateway] ${open.message}`;
    expect(open.message).toBe('[gateway] Circuit breaker "partner" is open; retry in 2 s');
    expect(new BreakerOpenError('partner', 'open', 1_500).message).toBe(
      'Circuit breaker "partner" is open; retry in 2 s',
    );
  });

  it('says in its message why each state turned the call away', () => {
    expect({
      open: new BreakerOpenError('partner', 'open', 4_001).message,
      'open, under a second': new BreakerOpenError('partner', 'open', 1).message,
      'open, nothing left': new BreakerOpenError('partner', 'open', 0).message,
      'half-open': new BreakerOpenError('partner', 'half-open', 0).message,
      'forced-open': new BreakerOpenError('partner', 'forced-open', 10_000).message,
      recovering: new BreakerOpenError('partner', 'recovering', 0).message,
    }).toMatchInlineSnapshot(`
      {
        "forced-open": "Circuit breaker "partner" is forced open until it is reset",
        "half-open": "Circuit breaker "partner" is half-open and its trial calls are all in use",
        "open": "Circuit breaker "partner" is open; retry in 5 s",
        "open, nothing left": "Circuit breaker "partner" is open; retry in 0 s",
        "open, under a second": "Circuit breaker "partner" is open; retry in 1 s",
        "recovering": "Circuit breaker "partner" is recovering from being open and admits only part of its calls",
      }
    `);
  });

  it('a rejection carries the breaker, its state and the time to wait', () => {
    const error = new BreakerOpenError('partner', 'recovering', 250);
    expect({ ...error, message: error.message }).toEqual({
      code: 'BREAKER_OPEN',
      name: 'BreakerOpenError',
      breaker: 'partner',
      state: 'recovering',
      retryAfterMs: 250,
      message: 'Circuit breaker "partner" is recovering from being open and admits only part of its calls',
    });
  });

  it('a fail-fast rejection has no stack frames and leaves stack traces of other errors whole', () => {
    const before = Error.stackTraceLimit;
    const error = rejection('partner', 'open', 2_000);
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(error).toMatchObject({ breaker: 'partner', state: 'open', retryAfterMs: 2_000 });
    expect(error.stack).toBe('BreakerOpenError: Circuit breaker "partner" is open; retry in 2 s');
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('elsewhere').stack!.split('\n').length).toBeGreaterThan(1);
  });

  it('the base class carries any code and a cause', () => {
    const cause = new Error('socket closed');
    const error = new BreakerError('CUSTOM', 'something broke', { cause });
    expect(error).toMatchObject({ code: 'CUSTOM', message: 'something broke', cause });
    expect(error).toBeInstanceOf(BreakerError);
    expect(error).not.toBeInstanceOf(BreakerOpenError);
    expect(BreakerError.code).toBeUndefined();
    expect(BreakerOpenError.code).toBe('BREAKER_OPEN');
    expect(CallTimeoutError.code).toBe('BREAKER_TIMEOUT');
    expect(InvalidOptionError.code).toBe('BREAKER_INVALID_OPTION');
  });

  it('instanceof refuses values that only look like an error of the package', () => {
    const brand = Symbol.for('@breaker/core/error');
    const branded = (fields: object) =>
      Object.assign(Object.create(null) as object, fields, { [brand]: true });
    expect('BREAKER_OPEN').not.toBeInstanceOf(BreakerError);
    expect(undefined).not.toBeInstanceOf(BreakerOpenError);
    expect({ code: 'BREAKER_OPEN' }).not.toBeInstanceOf(BreakerOpenError);
    expect(
      Object.assign(Object.create(null) as object, { code: 'BREAKER_OPEN', [brand]: 'yes' }),
    ).not.toBeInstanceOf(BreakerError);
    expect(branded({ code: 'BREAKER_TIMEOUT' })).toBeInstanceOf(CallTimeoutError);
    expect(branded({ code: 'BREAKER_TIMEOUT' })).not.toBeInstanceOf(BreakerOpenError);
  });

  it('an invalid option is a TypeError that names the option, told apart from other errors', () => {
    const error = new InvalidOptionError('window.size', 'too small');
    expect({ ...error, message: error.message }).toEqual({
      code: 'BREAKER_INVALID_OPTION',
      name: 'InvalidOptionError',
      option: 'window.size',
      message: 'too small',
    });
    expect(String(error)).toBe('InvalidOptionError: too small');
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toBeInstanceOf(InvalidOptionError);
    const brand = Symbol.for('@breaker/core/error');
    const copy = Object.assign(new TypeError('too small'), { code: 'BREAKER_INVALID_OPTION' });
    Object.defineProperty(copy, brand, { value: true });
    expect(copy).toBeInstanceOf(InvalidOptionError);
    expect(new TypeError('too small')).not.toBeInstanceOf(InvalidOptionError);
    expect(null).not.toBeInstanceOf(InvalidOptionError);
    expect('BREAKER_INVALID_OPTION').not.toBeInstanceOf(InvalidOptionError);
    expect({ code: 'BREAKER_INVALID_OPTION' }).not.toBeInstanceOf(InvalidOptionError);
    const callable = Object.assign(() => {}, { code: 'BREAKER_INVALID_OPTION', [brand]: true });
    expect(callable).not.toBeInstanceOf(InvalidOptionError);
    expect(new BreakerOpenError('a', 'open', 1)).not.toBeInstanceOf(InvalidOptionError);
    expect(error).not.toBeInstanceOf(BreakerOpenError);
  });
});
