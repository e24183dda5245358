import { describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import type { BreakerOptions } from './options.js';
import { ManualClock } from './testing.js';

function setup(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ clock, ...options });
  const succeed = () => breaker.fire(() => 'ok');
  const fail = (error: unknown = new Error('upstream down')) =>
    breaker
      .fire(() => {
        throw error;
      })
      .catch((e: unknown) => e);
  return { clock, breaker, succeed, fail };
}

function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('seed API', () => {
  it('opens at the Nth consecutive failure and rejects without calling fn', async () => {
    const { breaker, fail } = setup({ failureThreshold: 3, successThreshold: 2, timeout: 10_000 });
    await fail();
    await fail();
    expect(breaker.state).toBe('closed');
    await fail();
    expect(breaker.state).toBe('open');
    const fn = vi.fn(() => 'never');
    const error = await breaker.fire(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(error).toMatchObject({ code: 'BREAKER_OPEN', breaker: 'breaker', retryAfterMs: 10_000 });
    expect((error as Error).message).toContain('open');
  });

  it('a success between failures resets the consecutive count', async () => {
    const { breaker, fail, succeed } = setup({ failureThreshold: 3 });
    await fail();
    await fail();
    await succeed();
    await fail();
    await fail();
    expect(breaker.state).toBe('closed');
  });

  it('goes half-open after `timeout` and closes after successThreshold trial successes', async () => {
    const { breaker, clock, fail, succeed } = setup({
      failureThreshold: 3,
      successThreshold: 2,
      timeout: 10_000,
    });
    for (let i = 0; i < 3; i++) await fail();
    clock.advance(9_999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    await succeed();
    expect(breaker.state).toBe('half-open');
    await succeed();
    expect(breaker.state).toBe('closed');
  });

  it('becomes half-open when timeout has passed even if no timer fired', async () => {
    const clock = new ManualClock();
    // A clock whose timers never fire, like an event loop that was blocked.
    const frozenTimers = { now: () => clock.now(), setTimeout: () => 0, clearTimeout: () => {} };
    const breaker = new CircuitBreaker({ clock: frozenTimers, failureThreshold: 1, timeout: 1_000 });
    await breaker.fire(() => Promise.reject(new Error('x'))).catch(() => {});
    clock.set(clock.now() + 1_000);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.fire(() => 'ok')).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('a trial failure opens again for another timeout', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 1_000 });
    await fail();
    clock.advance(1_000);
    await fail();
    expect(breaker.state).toBe('open');
    expect(breaker.stats().retryAfterMs).toBe(1_000);
  });

  it('passes a signal to fn, works with a synchronous fn, and returns its value', async () => {
    const { breaker } = setup();
    let seen: AbortSignal | undefined;
    await expect(
      breaker.fire(({ signal }) => {
        seen = signal;
        return 42;
      }),
    ).resolves.toBe(42);
    expect(seen).toBeInstanceOf(AbortSignal);
    expect(seen!.aborted).toBe(false);
  });

  it('rejects with the error a synchronous fn throws and counts it', async () => {
    const { breaker } = setup();
    const error = new Error('sync');
    await expect(
      breaker.fire(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(breaker.stats().counts.failures).toBe(1);
  });

  it('the seed promise chain works as written', async () => {
    const { breaker } = setup({ failureThreshold: 3, successThreshold: 2, timeout: 10000 });
    const log: string[] = [];
    await breaker
      .fire(async () => ({ ok: true }))
      .then((data) => log.push(`Success: ${JSON.stringify(data)}`))
      .catch((err: Error) => log.push(`Breaker Open: ${err.message}`));
    breaker.forceOpen();
    await breaker
      .fire(async () => ({ ok: true }))
      .then((data) => log.push(`Success: ${JSON.stringify(data)}`))
      .catch((err: Error) => log.push(`Breaker Open: ${err.message}`));
    expect(log[0]).toBe('Success: {"ok":true}');
    expect(log[1]).toMatch(/^Breaker Open: .*open/);
  });

  it('wrap passes arguments through unchanged', async () => {
    const { breaker } = setup();
    const add = breaker.wrap((a: number, b: { c: string }) => `${a}${b.c}`);
    const arg = { c: 'x' };
    await expect(add(1, arg)).resolves.toBe('1x');
    const spy = vi.fn((...args: unknown[]) => args);
    await expect(breaker.wrap(spy)(1, arg, undefined)).resolves.toEqual([1, arg, undefined]);
    expect(spy.mock.calls[0]![1]).toBe(arg);
  });

  it('an ignored rejection surfaces as an unhandled rejection', async () => {
    const { breaker } = setup();
    const seen: unknown[] = [];
    const onUnhandled = (reason: unknown) => seen.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const error = new Error('nobody listens');
      void breaker.fire(() => Promise.reject(error));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seen).toContain(error);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('half-open permits', () => {
  it('admits halfOpenMaxConcurrent trials and rejects the rest at once', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 100, halfOpenMaxConcurrent: 2 });
    await fail();
    clock.advance(100);
    const trials = [deferred(), deferred()];
    const first = breaker.fire(() => trials[0]!.promise);
    const second = breaker.fire(() => trials[1]!.promise);
    const fn = vi.fn();
    const third = await breaker.fire(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(third).toBeInstanceOf(BreakerOpenError);
    expect(third).toMatchObject({ state: 'half-open', retryAfterMs: 0 });
    trials[0]!.resolve('a');
    trials[1]!.resolve('b');
    await expect(Promise.all([first, second])).resolves.toEqual(['a', 'b']);
    expect(breaker.state).toBe('closed');
  });

  it('a permit whose call never settles expires and the breaker reopens', async () => {
    const { breaker, clock, fail } = setup({
      failureThreshold: 1,
      timeout: 100,
      halfOpenPermitTimeout: 5_000,
    });
    await fail();
    clock.advance(100);
    void breaker.fire(() => new Promise(() => {}));
    clock.advance(4_999);
    await expect(breaker.fire(() => 'x')).rejects.toMatchObject({ state: 'half-open' });
    clock.advance(1);
    await expect(breaker.fire(() => 'x')).rejects.toMatchObject({ state: 'open' });
    expect(breaker.state).toBe('open');
    clock.advance(100);
    await expect(breaker.fire(() => 'recovered')).resolves.toBe('recovered');
    expect(breaker.state).toBe('closed');
  });

  it('an ignored error gives the permit back', async () => {
    const ignored = new Error('caller fault');
    const { breaker, clock, fail } = setup({
      failureThreshold: 1,
      timeout: 100,
      isFailure: (error) => error !== ignored,
    });
    await fail();
    clock.advance(100);
    await fail(ignored);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.fire(() => 'ok')).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });
});

describe('rounds', () => {
  it('a slow success from the closed period does not close a fresh half-open', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 100 });
    const slow = deferred();
    const late = breaker.fire(() => slow.promise);
    await fail();
    clock.advance(100);
    expect(breaker.state).toBe('half-open');
    const events: boolean[] = [];
    breaker.on('success', (event) => events.push(event.stale));
    slow.resolve('late');
    await expect(late).resolves.toBe('late');
    expect(breaker.state).toBe('half-open');
    expect(events).toEqual([true]);
    expect(breaker.stats().counts).toMatchObject({ successes: 0, stale: 1 });
  });

  it('a slow failure from the closed period does not reopen a fresh half-open', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 100 });
    const slow = deferred();
    const late = breaker.fire(() => slow.promise).catch((e: unknown) => e);
    await fail();
    clock.advance(100);
    const stale: boolean[] = [];
    breaker.on('failure', (event) => stale.push(event.stale));
    slow.reject(new Error('late failure'));
    await late;
    expect(breaker.state).toBe('half-open');
    expect(stale).toEqual([true]);
  });

  it('a call from before a close does not count in the new closed period', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 2, timeout: 100 });
    const slow = deferred();
    const late = breaker.fire(() => slow.promise).catch((e: unknown) => e);
    await fail();
    await fail();
    clock.advance(100);
    await breaker.fire(() => 'ok');
    expect(breaker.state).toBe('closed');
    slow.reject(new Error('from the old round'));
    await late;
    await fail();
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().consecutiveFailures).toBe(1);
  });
});

describe('callTimeout', () => {
  it('rejects with CallTimeoutError, aborts the signal, and counts a failure', async () => {
    const { breaker, clock } = setup({ callTimeout: 500, failureThreshold: 1 });
    let signal: AbortSignal | undefined;
    const timeouts: unknown[] = [];
    breaker.on('timeout', (event) => timeouts.push(event.error));
    const call = breaker
      .fire(({ signal: s }) => {
        signal = s;
        return new Promise(() => {});
      })
      .catch((e: unknown) => e);
    clock.advance(499);
    expect(signal!.aborted).toBe(false);
    clock.advance(1);
    const error = await call;
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(error).toMatchObject({ code: 'BREAKER_TIMEOUT', timeoutMs: 500, breaker: 'breaker' });
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBe(error);
    expect(timeouts).toEqual([error]);
    expect(breaker.state).toBe('open');
    expect(clock.pendingTimers).toBe(1); // only the open timer; the call's timer is gone
  });

  it('gives every call its own signal, so one timeout never aborts another call', async () => {
    const { breaker, clock } = setup({ callTimeout: 100, failureThreshold: 10 });
    const signals: AbortSignal[] = [];
    const first = breaker
      .fire(({ signal }) => {
        signals.push(signal);
        return new Promise(() => {});
      })
      .catch(() => {});
    clock.advance(50);
    const second = breaker.fire(({ signal }) => {
      signals.push(signal);
      return new Promise((resolve) => setTimeout(resolve, 0, 'second'));
    });
    clock.advance(50);
    await first;
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
    await expect(second).resolves.toBe('second');
    const third = breaker.fire(({ signal }) => signal.aborted);
    await expect(third).resolves.toBe(false);
  });

  it('clears its timer when the call settles first', async () => {
    const { breaker, clock } = setup({ callTimeout: 1_000 });
    await breaker.fire(() => 'fast');
    await breaker.fire(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(clock.pendingTimers).toBe(0);
  });

  it('a late rejection after the timeout is swallowed, not unhandled', async () => {
    const { breaker, clock } = setup({ callTimeout: 10 });
    const late = deferred();
    const seen: unknown[] = [];
    const onUnhandled = (reason: unknown) => seen.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const call = breaker.fire(() => late.promise).catch((e: unknown) => e);
      clock.advance(10);
      await call;
      late.reject(new Error('late'));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(seen).toEqual([]);
      expect(breaker.stats().counts.failures).toBe(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe("the caller's AbortSignal", () => {
  it('rejects with the reason, aborts fn, counts neither way and removes its listener', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    let inner: AbortSignal | undefined;
    const call = breaker
      .fire(
        ({ signal }) => {
          inner = signal;
          return new Promise(() => {});
        },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e);
    const reason = new Error('client went away');
    controller.abort(reason);
    await expect(call).resolves.toBe(reason);
    expect(inner!.aborted).toBe(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().counts).toMatchObject({ failures: 0, successes: 0, ignored: 1 });
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledTimes(1);
  });

  it('removes its listener when the call settles normally', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    await breaker.fire(() => 'ok', { signal: controller.signal });
    expect(remove).toHaveBeenCalledTimes(1);
  });

  it('an already aborted signal rejects without calling fn or taking a permit', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 100 });
    await fail();
    clock.advance(100);
    const fn = vi.fn();
    await expect(breaker.fire(fn, { signal: AbortSignal.abort('gone') })).rejects.toBe('gone');
    expect(fn).not.toHaveBeenCalled();
    await expect(breaker.fire(() => 'trial')).resolves.toBe('trial');
  });

  it('an abort during a half-open trial gives the permit back', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 100 });
    await fail();
    clock.advance(100);
    const controller = new AbortController();
    const call = breaker.fire(() => new Promise(() => {}), { signal: controller.signal }).catch(() => {});
    controller.abort();
    await call;
    expect(breaker.state).toBe('half-open');
    await expect(breaker.fire(() => 'ok')).resolves.toBe('ok');
  });
});

describe('isFailure', () => {
  it('errors it turns down count neither way and are still rethrown', async () => {
    const notFound = Object.assign(new Error('not found'), { status: 404 });
    const { breaker, fail } = setup({
      failureThreshold: 2,
      isFailure: (error) => (error as { status?: number }).status !== 404,
    });
    await fail();
    expect(await fail(notFound)).toBe(notFound);
    await fail(notFound);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().consecutiveFailures).toBe(1);
    await fail();
    expect(breaker.state).toBe('open');
  });

  it('an isFailure that throws counts the error as a failure', async () => {
    const { breaker, fail } = setup({
      failureThreshold: 1,
      isFailure: () => {
        throw new Error('bug in predicate');
      },
    });
    await fail();
    expect(breaker.state).toBe('open');
  });
});

describe('open duration', () => {
  it('grows on repeated trips up to maxTimeout and resets on close', async () => {
    const { breaker, clock, fail, succeed } = setup({
      failureThreshold: 1,
      timeout: 1_000,
      timeoutMultiplier: 2,
      maxTimeout: 3_000,
    });
    const durations: number[] = [];
    breaker.on('open', (event) => durations.push(event.retryAfterMs));
    await fail();
    clock.advance(1_000);
    await fail();
    clock.advance(2_000);
    await fail();
    clock.advance(3_000);
    await fail();
    clock.advance(3_000);
    await succeed();
    await fail();
    expect(durations).toEqual([1_000, 2_000, 3_000, 3_000, 1_000]);
  });

  it('jitter shortens the open time by at most its share', async () => {
    const { breaker, fail } = setup({
      failureThreshold: 1,
      timeout: 1_000,
      timeoutJitter: 0.2,
      random: () => 0.5,
    });
    await fail();
    expect(breaker.stats().retryAfterMs).toBe(900);
  });

  it("an error's own retryAfterMs opens the breaker for that long, within maxTimeout", async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 5, timeout: 1_000, maxTimeout: 60_000 });
    await fail(Object.assign(new Error('503'), { retryAfterMs: 30_000 }));
    expect(breaker.state).toBe('open');
    expect(breaker.stats().retryAfterMs).toBe(30_000);
    clock.advance(30_000);
    await breaker.fire(() => 'ok');
    await fail(Object.assign(new Error('429'), { retryAfterMs: 3_600_000 }));
    expect(breaker.stats().retryAfterMs).toBe(60_000);
  });
});

describe('nested breakers', () => {
  it("an inner breaker's rejection is an ordinary failure for the outer one", async () => {
    const clock = new ManualClock();
    const inner = new CircuitBreaker({ clock, name: 'inner', failureThreshold: 1, timeout: 60_000 });
    const outer = new CircuitBreaker({ clock, name: 'outer', failureThreshold: 3 });
    await inner.fire(() => Promise.reject(new Error('down'))).catch(() => {});
    const error = await outer.fire(() => inner.fire(() => 'x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BreakerOpenError);
    expect(outer.state).toBe('closed');
    expect(outer.stats().consecutiveFailures).toBe(1);
  });
});

describe('manual control', () => {
  it('forceOpen rejects until reset and emits open and state-change', async () => {
    const { breaker, clock } = setup({ timeout: 1_000 });
    const events: string[] = [];
    breaker.on('open', (e) => events.push(`open:${e.reason}`));
    breaker.on('state-change', (e) => events.push(`${e.from}->${e.to}`));
    breaker.forceOpen();
    clock.advance(60_000);
    expect(breaker.state).toBe('forced-open');
    await expect(breaker.fire(() => 'x')).rejects.toMatchObject({
      code: 'BREAKER_OPEN',
      state: 'forced-open',
    });
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['closed->forced-open', 'open:force-open', 'forced-open->closed']);
  });

  it('disable lets every call through and records nothing', async () => {
    const { breaker, fail } = setup({ failureThreshold: 1 });
    const changes: string[] = [];
    breaker.on('state-change', (e) => changes.push(e.to));
    breaker.disable();
    for (let i = 0; i < 5; i++) await fail();
    expect(breaker.state).toBe('disabled');
    breaker.reset();
    expect(changes).toEqual(['disabled', 'closed']);
  });

  it('reset clears every counter and window', async () => {
    const { breaker, fail } = setup({ failureThreshold: 3, failureRateThreshold: 90, minimumCalls: 3 });
    await fail();
    await fail();
    breaker.reset();
    const stats = breaker.stats();
    expect(stats.consecutiveFailures).toBe(0);
    expect(stats.window).toMatchObject({ calls: 0, failures: 0 });
    expect(stats.counts.failures).toBe(0);
    await fail();
    await fail();
    expect(breaker.state).toBe('closed');
  });
});

describe('events', () => {
  it('emits each transition with from, to and reason', async () => {
    const { breaker, clock, fail, succeed } = setup({ failureThreshold: 1, timeout: 100 });
    const seen: string[] = [];
    breaker.on('state-change', (e) => seen.push(`${e.from}->${e.to}:${e.reason}`));
    breaker.on('open', () => seen.push('open'));
    breaker.on('half-open', () => seen.push('half-open'));
    breaker.on('close', () => seen.push('close'));
    await fail();
    clock.advance(100);
    await succeed();
    expect(seen).toEqual([
      'closed->open:consecutive-failures',
      'open',
      'open->half-open:timeout-elapsed',
      'half-open',
      'half-open->closed:trial-success',
      'close',
    ]);
  });

  it('emits success, failure and reject with their details', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 100 });
    const seen: unknown[] = [];
    breaker.on('success', (e) => seen.push(['success', e.durationMs, e.stale]));
    breaker.on('failure', (e) => seen.push(['failure', (e.error as Error).message]));
    breaker.on('reject', (e) => seen.push(['reject', e.error.code]));
    await breaker.fire(() => {
      clock.advance(25);
      return 'ok';
    });
    await fail(new Error('boom'));
    await breaker.fire(() => 'x').catch(() => {});
    expect(seen).toEqual([
      ['success', 25, false],
      ['failure', 'boom'],
      ['reject', 'BREAKER_OPEN'],
    ]);
  });

  it('a listener that throws never breaks a call and is reported as a warning', async () => {
    const { breaker, fail } = setup({ failureThreshold: 1 });
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      breaker.on('success', () => {
        throw new Error('listener bug');
      });
      breaker.on('state-change', () => {
        throw new Error('listener bug');
      });
      await expect(breaker.fire(() => 'still fine')).resolves.toBe('still fine');
      await fail();
      expect(breaker.state).toBe('open');
      expect(emitWarning).toHaveBeenCalledTimes(2);
      expect(String(emitWarning.mock.calls[0]![0])).toContain('"success" event threw: Error: listener bug');
    } finally {
      emitWarning.mockRestore();
    }
  });

  it('a listener added while a call is in flight sees a duration of 0, not the clock time', async () => {
    const { breaker } = setup();
    const call = deferred();
    const result = breaker.fire(() => call.promise);
    const durations: number[] = [];
    breaker.on('success', (event) => durations.push(event.durationMs));
    call.resolve('ok');
    await result;
    expect(durations).toEqual([0]);
  });

  it('on returns a function that removes the listener', async () => {
    const { breaker, succeed } = setup();
    const listener = vi.fn();
    const off = breaker.on('success', listener);
    await succeed();
    off();
    await succeed();
    expect(listener).toHaveBeenCalledTimes(1);
  });
});

describe('stats', () => {
  it('is a plain JSON-serialisable snapshot', async () => {
    const { breaker, clock, fail, succeed } = setup({ failureThreshold: 2, timeout: 5_000 });
    await succeed();
    await fail();
    await fail();
    await breaker.fire(() => 'x').catch(() => {});
    clock.advance(1_000);
    const stats = breaker.stats();
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    expect(stats).toMatchObject({
      state: 'open',
      openedAt: clock.now() - 1_000,
      retryAfterMs: 4_000,
      trips: 1,
      consecutiveFailures: 2,
      counts: { successes: 1, failures: 2, rejections: 1 },
    });
    expect(stats.failureRate).toBeCloseTo(66.67, 1);
  });

  it('rejected calls never enter the failure rate', async () => {
    const { breaker, clock, fail, succeed } = setup({
      failureRateThreshold: 50,
      minimumCalls: 4,
      window: { type: 'count', size: 10 },
      timeout: 100,
    });
    await succeed();
    await succeed();
    await fail();
    await fail();
    expect(breaker.state).toBe('open');
    for (let i = 0; i < 20; i++) await breaker.fire(() => 'x').catch(() => {});
    clock.advance(100);
    await succeed();
    expect(breaker.stats().window).toMatchObject({ calls: 0, failures: 0 });
    expect(breaker.stats().counts.rejections).toBe(20);
  });
});

describe('timers', () => {
  it('a closed breaker holds no timer, an open one exactly one, and dispose clears it', async () => {
    const { breaker, clock, fail, succeed } = setup({ failureThreshold: 1, timeout: 1_000 });
    await succeed();
    expect(clock.pendingTimers).toBe(0);
    await fail();
    expect(clock.pendingTimers).toBe(1);
    for (let i = 0; i < 10; i++) await breaker.fire(() => 'x').catch(() => {});
    expect(clock.pendingTimers).toBe(1);
    breaker.dispose();
    expect(clock.pendingTimers).toBe(0);
    expect(breaker.state).toBe('open');
    clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
  });

  it('the open timer moves the breaker to half-open and emits the event on time', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 1, timeout: 1_000 });
    const at: number[] = [];
    breaker.on('half-open', (event) => at.push(event.at));
    await fail();
    const opened = clock.now();
    clock.advance(5_000);
    expect(at).toEqual([opened + 1_000]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('acquire permits', () => {
  it('records the outcome reported on the permit, once', () => {
    const { breaker } = setup({ failureThreshold: 2 });
    const permit = breaker.acquire();
    permit.failure(new Error('a'));
    permit.failure(new Error('a'));
    expect(breaker.stats().counts.failures).toBe(1);
    breaker.acquire().failure(new Error('b'));
    expect(breaker.state).toBe('open');
    expect(() => breaker.acquire()).toThrow(BreakerOpenError);
    expect(breaker.stats().counts.rejections).toBe(1);
  });

  it('ignore gives a half-open permit back', () => {
    const { breaker, clock } = setup({ failureThreshold: 1, timeout: 10 });
    breaker.acquire().failure();
    clock.advance(10);
    const permit = breaker.acquire();
    expect(() => breaker.acquire()).toThrow(/half-open/);
    permit.ignore();
    breaker.acquire().success();
    expect(breaker.state).toBe('closed');
  });
});

describe('saved state', () => {
  it('resumes an open breaker with the time left, measured from when it opened', async () => {
    const first = setup({ name: 'payments', failureThreshold: 1, timeout: 10_000 });
    await first.fail();
    first.clock.advance(4_000);
    const saved = JSON.parse(JSON.stringify(first.breaker.toJSON()));
    const clock = new ManualClock(first.clock.now() + 1_000);
    const restored = new CircuitBreaker({ name: 'payments', clock, timeout: 10_000, initialState: saved });
    expect(restored.state).toBe('open');
    expect(restored.stats().retryAfterMs).toBe(5_000);
    clock.advance(4_999);
    expect(restored.state).toBe('open');
    clock.advance(1);
    expect(restored.state).toBe('half-open');
  });

  it('a resumed open breaker goes half-open on its own when the time is up, telling its listeners', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      timeout: 10_000,
      initialState: {
        version: 1,
        name: 'breaker',
        state: 'open',
        round: 3,
        openedAt: clock.now() - 4_000,
        openUntil: clock.now() + 6_000,
        trips: 1,
      },
    });
    const changes: string[] = [];
    breaker.on('state-change', (event) => changes.push(`${event.from}>${event.to}:${event.reason}`));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(6_000);
    expect(changes).toEqual(['open>half-open:timeout-elapsed']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('an open snapshot whose time has passed resumes half-open', () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      initialState: {
        version: 1,
        name: 'breaker',
        state: 'open',
        round: 3,
        openedAt: clock.now() - 20_000,
        openUntil: clock.now() - 10_000,
        trips: 1,
      },
    });
    expect(breaker.state).toBe('half-open');
  });

  it('keeps trips, so the next open time keeps growing', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({
      clock,
      failureThreshold: 1,
      timeout: 1_000,
      timeoutMultiplier: 2,
      initialState: {
        version: 1,
        name: 'breaker',
        state: 'half-open',
        round: 7,
        openedAt: clock.now() - 4_000,
        openUntil: null,
        trips: 3,
      },
    });
    await breaker.fire(() => Promise.reject(new Error('still down'))).catch(() => {});
    expect(breaker.stats().retryAfterMs).toBe(8_000);
  });
});
