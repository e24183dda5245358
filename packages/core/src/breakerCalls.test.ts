import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import type { BreakerOptions } from './options.js';
import { ManualClock } from './testing.js';

function make(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ name: 'partner', clock, ...options });
  const calls: [string, unknown][] = [];
  for (const name of ['success', 'failure', 'ignored', 'timeout'] as const) {
    breaker.on(name, (event) => calls.push([name, event]));
  }
  return { clock, breaker, calls };
}

describe("a call with the caller's signal and a deadline", () => {
  it('the abort rejects with its reason, aborts the call, clears the deadline and counts the call as ignored', async () => {
    const { breaker, clock, calls } = make({ callTimeout: 1_000 });
    const controller = new AbortController();
    let inner: AbortSignal | undefined;
    const outcome = breaker
      .fire(
        ({ signal }) => {
          inner = signal;
          return new Promise(() => {});
        },
        { signal: controller.signal },
      )
      .catch((error: unknown) => error);
    clock.advance(300);
    const reason = new Error('client left');
    controller.abort(reason);
    await expect(outcome).resolves.toBe(reason);
    expect(inner!.reason).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    expect(calls).toEqual([['ignored', { error: reason, durationMs: 300, stale: false }]]);
    expect(breaker.stats().counts).toMatchObject({ ignored: 1, timeouts: 0, failures: 0 });
  });

  it('the deadline rejects, stops listening to the signal, and a later abort changes nothing', async () => {
    const { breaker, clock, calls } = make({ callTimeout: 1_000, failureThreshold: 5 });
    const controller = new AbortController();
    const outcome = breaker
      .fire(() => new Promise(() => {}), { signal: controller.signal })
      .catch((error: unknown) => error);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    clock.advance(1_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort(new Error('too late'));
    expect(calls).toEqual([
      ['timeout', { error, stale: false }],
      ['failure', { error, durationMs: 1_000, slow: false, stale: false }],
    ]);
    expect(breaker.stats().counts).toMatchObject({ timeouts: 1, failures: 1, ignored: 0 });
  });

  it('a call that throws at once clears its deadline and stops listening to the signal', async () => {
    const { breaker, clock, calls } = make({ callTimeout: 1_000, failureThreshold: 5 });
    const controller = new AbortController();
    const error = new Error('thrown');
    await expect(
      breaker.fire(
        () => {
          throw error;
        },
        { signal: controller.signal },
      ),
    ).rejects.toBe(error);
    expect(clock.pendingTimers).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(calls).toEqual([['failure', { error, durationMs: 0, slow: false, stale: false }]]);
  });

  it('a call that settles in time clears its deadline; a settlement after the deadline counts nothing more', async () => {
    const { breaker, clock, calls } = make({ callTimeout: 1_000, failureThreshold: 5 });
    await expect(breaker.fire(() => 'quick')).resolves.toBe('quick');
    expect(clock.pendingTimers).toBe(0);
    let answer!: (value: string) => void;
    const outcome = breaker
      .fire(() => new Promise<string>((resolve) => (answer = resolve)))
      .catch((error: unknown) => error);
    clock.advance(1_000);
    await outcome;
    answer('late');
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls.map(([name]) => name)).toEqual(['success', 'timeout', 'failure']);
    expect(breaker.stats().counts).toMatchObject({ successes: 1, failures: 1, timeouts: 1 });
  });

  it('a failure after an abort counts nothing more', async () => {
    const { breaker, calls } = make({ failureThreshold: 1 });
    const controller = new AbortController();
    let refuse!: (error: unknown) => void;
    const outcome = breaker
      .fire(() => new Promise<string>((_resolve, reject) => (refuse = reject)), { signal: controller.signal })
      .catch(() => {});
    controller.abort('gone');
    await outcome;
    refuse(new Error('down'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([['ignored', { error: 'gone', durationMs: 0, stale: false }]]);
    expect(breaker.state).toBe('closed');
  });
});

describe('a half-open breaker counts its trial calls', () => {
  async function halfOpen(options: BreakerOptions = {}) {
    const made = make({ failureThreshold: 1, timeout: 1_000, ...options });
    made.breaker.acquire().failure(new Error('down'));
    made.clock.advance(1_000);
    return made;
  }

  it('in flight and succeeded, until enough have succeeded to close', async () => {
    const { breaker } = await halfOpen({ successThreshold: 2, halfOpenMaxConcurrent: 3 });
    const a = breaker.acquire();
    const b = breaker.acquire();
    expect(breaker.stats().halfOpen).toEqual({ successes: 0, inFlight: 2 });
    a.success();
    expect(breaker.stats().halfOpen).toEqual({ successes: 1, inFlight: 1 });
    expect(breaker.state).toBe('half-open');
    b.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().halfOpen).toEqual({ successes: 0, inFlight: 0 });
  });

  it('a trial whose outcome tells nothing frees its place for the next', async () => {
    const { breaker } = await halfOpen({ halfOpenMaxConcurrent: 1, isFailure: (e) => e !== 'not counted' });
    breaker.acquire().failure('not counted');
    expect(breaker.stats().halfOpen).toEqual({ successes: 0, inFlight: 0 });
    const next = breaker.acquire();
    expect(() => breaker.acquire()).toThrow(BreakerOpenError);
    next.ignore();
    breaker.acquire().success();
    expect(breaker.state).toBe('closed');
  });

  it('the place freed is the ended trial’s own: the oldest trial still expires on time', async () => {
    const { breaker, clock } = await halfOpen({ halfOpenMaxConcurrent: 2, halfOpenPermitTimeout: 5_000 });
    const oldest = breaker.acquire();
    clock.advance(3_000);
    const newer = breaker.acquire();
    newer.ignore();
    clock.advance(2_000);
    expect(() => breaker.acquire()).toThrow(expect.objectContaining({ state: 'open' }));
    oldest.success();
    expect(breaker.state).toBe('open');
  });

  it('a trial that fails reopens for the time its error asks', async () => {
    const { breaker } = await halfOpen();
    breaker.acquire().failure(Object.assign(new Error('429'), { retryAfterMs: 4_000 }));
    expect(breaker.stats()).toMatchObject({ state: 'open', retryAfterMs: 4_000, trips: 2 });
  });

  it('a stale outcome from before the breaker opened is counted apart and changes nothing', async () => {
    const { breaker, clock, calls } = make({ failureThreshold: 1, timeout: 1_000 });
    const early = breaker.acquire();
    breaker.acquire().failure(new Error('down'));
    clock.advance(1_000);
    calls.length = 0;
    early.failure(new Error('late news'));
    early.success();
    expect(breaker.state).toBe('half-open');
    expect(calls).toEqual([
      ['failure', { error: new Error('late news'), durationMs: 1_000, slow: false, stale: true }],
    ]);
    expect(breaker.stats().counts).toMatchObject({ failures: 1, stale: 1 });
  });
});

describe('a permit', () => {
  it('reports one outcome: a second success or ignore counts nothing', () => {
    const { breaker, calls } = make();
    const succeeded = breaker.acquire();
    succeeded.success();
    succeeded.success();
    succeeded.ignore();
    const ignored = breaker.acquire();
    ignored.ignore();
    ignored.ignore();
    ignored.success();
    expect(calls.map(([name]) => name)).toEqual(['success', 'ignored']);
    expect(breaker.stats().counts).toMatchObject({ successes: 1, ignored: 1, failures: 0 });
  });

  it('failing with any error but a CallTimeoutError counts no timeout', () => {
    const { breaker, calls } = make({ failureThreshold: 5 });
    breaker.acquire().failure(new Error('down'));
    breaker.acquire().failure();
    expect(calls.map(([name]) => name)).toEqual(['failure', 'failure']);
    expect(breaker.stats().counts).toMatchObject({ failures: 2, timeouts: 0 });
  });

  it('from before a state change, ignored, is counted as stale', () => {
    const { breaker, calls } = make();
    const early = breaker.acquire();
    breaker.forceOpen();
    breaker.reset();
    early.ignore();
    expect(calls).toEqual([['ignored', { error: undefined, durationMs: 0, stale: true }]]);
    expect(breaker.stats().counts).toMatchObject({ ignored: 0, stale: 1 });
  });
});

describe('a call whose own outcome listener changes the state', () => {
  it('a failure tells its listener, which resets the breaker: the failure does not count in the new period', () => {
    const { breaker } = make({ failureThreshold: 1 });
    breaker.on('failure', () => breaker.reset());
    breaker.acquire().failure(new Error('down'));
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().consecutiveFailures).toBe(0);
  });

  it('a success tells its listener, which resets the breaker: the success does not enter the new window', () => {
    const { breaker } = make({ failureRateThreshold: 50, window: { type: 'count', size: 10 } });
    breaker.on('success', () => breaker.reset());
    breaker.acquire().success();
    expect(breaker.stats().window).toMatchObject({ calls: 0 });
  });
});

describe('slow failures', () => {
  it('a failure that takes exactly slowCallDuration is slow; a quicker one is not', () => {
    const { breaker, clock, calls } = make({ failureThreshold: 5, slowCallDuration: 100 });
    const slow = breaker.acquire();
    clock.advance(100);
    slow.failure('slow');
    const quick = breaker.acquire();
    clock.advance(99);
    quick.failure('quick');
    expect(calls).toEqual([
      ['failure', { error: 'slow', durationMs: 100, slow: true, stale: false }],
      ['failure', { error: 'quick', durationMs: 99, slow: false, stale: false }],
    ]);
  });
});

describe('calls with only a signal', () => {
  it('set no timer', async () => {
    const { breaker, clock } = make();
    const call = breaker.fire(() => new Promise(() => {}), { signal: new AbortController().signal });
    void call;
    expect(clock.pendingTimers).toBe(0);
  });

  it('a call that aborts its own signal and then throws is ignored with the abort reason', async () => {
    const { breaker, calls } = make({ failureThreshold: 1 });
    const controller = new AbortController();
    await expect(
      breaker.fire(
        () => {
          controller.abort('gave up');
          throw new Error('thrown after the abort');
        },
        { signal: controller.signal },
      ),
    ).rejects.toBe('gave up');
    expect(calls).toEqual([['ignored', { error: 'gave up', durationMs: 0, stale: false }]]);
    expect(breaker.state).toBe('closed');
  });
});
