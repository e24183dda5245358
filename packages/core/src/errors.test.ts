import { describe, expect, it } from 'vitest';
import { BreakerError, BreakerOpenError, CallTimeoutError, InvalidOptionError } from './errors.js';

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
});
