import { describe, expect, it } from 'vitest';
import { BreakerOpenError } from './errors.js';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { SharedState, StateStore, StoreReplica, StoreSession } from './store.js';
import { ManualClock } from './testing.js';

/** A store whose fleet permits are granted or refused by the test, one answer per request. */
function askingStore() {
  const answers: ((granted: boolean) => void)[] = [];
  const log: string[] = [];
  let replica: StoreReplica | undefined;
  const session: StoreSession = {
    publish: () => {},
    report: () => {},
    tryAcquireProbe: () => false,
    acquireProbe: () => {
      log.push('ask');
      return new Promise<boolean>((resolve) => answers.push(resolve));
    },
    releaseProbe: () => log.push('release'),
    close: () => {},
  };
  const store: StateStore = {
    connect(_name, connected) {
      replica = connected;
      return session;
    },
  };
  return {
    store,
    log,
    answer: (granted: boolean) => answers.shift()!(granted),
    get pending() {
      return answers.length;
    },
    deliver: (state: unknown) => replica!.applyRemote(state as SharedState),
  };
}

function halfOpen(extra: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const fleet = askingStore();
  const breaker = new CircuitBreaker({
    name: 'partner',
    clock,
    store: fleet.store,
    failureThreshold: 1,
    timeout: 1_000,
    ...extra,
  });
  return { clock, fleet, breaker };
}

async function open(breaker: CircuitBreaker, clock: ManualClock) {
  await breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
  expect(breaker.state).toBe('open');
  clock.advance(1_000);
}

describe('a half-open breaker whose store asks the fleet for trial permits', () => {
  it('fire waits for the answer, so the first call after the open time is the trial', async () => {
    const { clock, fleet, breaker } = halfOpen();
    await open(breaker, clock);
    const trial = breaker.fire(() => 'trial');
    expect(fleet.pending).toBe(1);
    fleet.answer(true);
    await expect(trial).resolves.toBe('trial');
    expect(breaker.state).toBe('closed');
    expect(fleet.log).toEqual(['ask', 'release']);
  });

  it('a refusal rejects as half-open, counts one rejection and frees the local trial slot', async () => {
    const { clock, fleet, breaker } = halfOpen();
    await open(breaker, clock);
    const rejects: BreakerOpenError[] = [];
    breaker.on('reject', ({ error }) => rejects.push(error));
    const first = breaker.fire(() => 'never');
    // The local slot is held while the fleet answers: a second call is turned away at once.
    await expect(breaker.fire(() => 'also never')).rejects.toMatchObject({ state: 'half-open' });
    expect(fleet.pending).toBe(1);
    fleet.answer(false);
    await expect(first).rejects.toBeInstanceOf(BreakerOpenError);
    expect(rejects).toHaveLength(2);
    expect(breaker.stats().halfOpen.inFlight).toBe(0);
    const next = breaker.fire(() => 'next');
    fleet.answer(true);
    await expect(next).resolves.toBe('next');
  });

  it('admit returns a promise of a permit; acquire turns the call away at once', async () => {
    const { clock, fleet, breaker } = halfOpen();
    await open(breaker, clock);
    expect(() => breaker.acquire()).toThrow(BreakerOpenError);
    const admitted = breaker.admit();
    expect(admitted).toBeInstanceOf(Promise);
    fleet.answer(true);
    const permit = await admitted;
    permit.success();
    expect(breaker.state).toBe('closed');
    // Closed: admit answers at once.
    expect(breaker.admit()).not.toBeInstanceOf(Promise);
  });

  it('a failed request to the store lets the trial through on local rules', async () => {
    const clock = new ManualClock();
    const store: StateStore = {
      connect: () => ({
        publish: () => {},
        report: () => {},
        tryAcquireProbe: () => false,
        acquireProbe: () => Promise.reject(new Error('store down')),
        releaseProbe: () => {},
        close: () => {},
      }),
    };
    const breaker = new CircuitBreaker({
      name: 'partner',
      clock,
      store,
      failureThreshold: 1,
      timeout: 1_000,
    });
    await open(breaker, clock);
    await expect(breaker.fire(() => 'local')).resolves.toBe('local');
    expect(breaker.state).toBe('closed');
  });

  it('when the state moves on during the wait, the permit goes back and the new state decides', async () => {
    const { clock, fleet, breaker } = halfOpen();
    await open(breaker, clock);
    const waiting = breaker.fire(() => 'after reset');
    breaker.reset();
    fleet.answer(true);
    await expect(waiting).resolves.toBe('after reset');
    expect(fleet.log).toEqual(['ask', 'release']);

    await open(breaker, clock);
    const turnedAway = breaker.fire(() => 'never');
    breaker.forceOpen();
    fleet.answer(true);
    await expect(turnedAway).rejects.toMatchObject({ state: 'forced-open' });
  });

  it('when the state moves on during a wait the fleet refuses, nothing goes back and the call counts in the new state', async () => {
    const { clock, fleet, breaker } = halfOpen();
    await open(breaker, clock);
    const waiting = breaker.fire(() => 'after reset');
    breaker.reset();
    fleet.answer(false);
    await expect(waiting).resolves.toBe('after reset');
    expect(fleet.log).toEqual(['ask']);
    expect(breaker.stats().counts).toMatchObject({ successes: 1, stale: 0, rejections: 0 });
  });

  it("a caller's signal aborted during the wait rejects with its reason and gives the permit back", async () => {
    const { clock, fleet, breaker } = halfOpen();
    await open(breaker, clock);
    const controller = new AbortController();
    const ignored: unknown[] = [];
    breaker.on('ignored', ({ error }) => ignored.push(error));
    const call = breaker.fire(() => 'never', { signal: controller.signal });
    controller.abort(new Error('client left'));
    fleet.answer(true);
    await expect(call).rejects.toThrow('client left');
    expect(ignored).toHaveLength(1);
    expect(fleet.log).toEqual(['ask', 'release']);
    expect(breaker.state).toBe('half-open');
  });
});

describe('states from a store are checked like initialState', () => {
  const good = {
    version: 1,
    name: 'partner',
    state: 'open',
    round: 4,
    openedAt: Date.UTC(2026, 0, 1),
    openUntil: Date.UTC(2026, 0, 1) + 5_000,
    trips: 1,
    reason: 'consecutive-failures',
    origin: 'elsewhere',
  };

  it.each([
    ['null', null, 'the state is not an object'],
    ['an unknown state', { ...good, state: 'exploded' }, '"state" is not one of'],
    ['a round past the bound', { ...good, round: 1e308 }, '"round" is not a whole number from 0 to'],
    ['a fractional round', { ...good, round: 4.5 }, '"round" is not a whole number'],
    ['an unknown reason', { ...good, reason: 'because' }, '"reason" is not a transition reason'],
    ['an infinite open time', { ...good, openUntil: Infinity }, '"openUntil" is not a clock time or null'],
    ['another breaker', { ...good, name: 'other' }, 'it is the state of "other"'],
  ])('%s is ignored with a store-error, and the breaker works on', async (_label, state, message) => {
    const { fleet, breaker } = halfOpen();
    const errors: unknown[] = [];
    breaker.on('store-error', ({ error }) => errors.push(error));
    fleet.deliver(state);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect((errors[0] as Error).message).toContain(message);
    expect(breaker.state).toBe('closed');
    await expect(breaker.fire(() => 'ok')).resolves.toBe('ok');
  });

  it('a valid state is adopted, and its round does not stop later rounds', () => {
    const { clock, fleet, breaker } = halfOpen();
    fleet.deliver({ ...good, openedAt: clock.now(), openUntil: clock.now() + 5_000, round: 2 ** 50 - 1 });
    expect(breaker.state).toBe('open');
    breaker.reset();
    expect(breaker.toJSON().round).toBe(2 ** 50);
  });

  it('initialState refuses a round past the bound', () => {
    expect(
      () =>
        new CircuitBreaker({
          initialState: {
            version: 1,
            name: 'breaker',
            state: 'closed',
            round: 1e308,
            openedAt: null,
            openUntil: null,
            trips: 0,
          },
        }),
    ).toThrow(/initialState\.round/);
  });
});
