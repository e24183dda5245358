import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { BreakerOptions } from './options.js';
import {
  MemoryStore,
  type OutcomeBatch,
  type SharedState,
  type StateStore,
  type StoreReplica,
} from './store.js';
import { ManualClock } from './testing.js';

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

function fleet(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const make = () =>
    new CircuitBreaker({ name: 'payments', clock, store, failureThreshold: 2, timeout: 1_000, ...options });
  return { clock, store, a: make(), b: make() };
}

const fail = (breaker: CircuitBreaker) =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});

describe('MemoryStore', () => {
  it('a breaker that trips opens its peers of the same name', async () => {
    const { a, b } = fleet();
    const reasons: string[] = [];
    b.on('state-change', (event) => reasons.push(`${event.to}:${event.reason}`));
    await fail(a);
    await fail(a);
    expect(a.state).toBe('open');
    await tick();
    expect(b.state).toBe('open');
    expect(reasons).toEqual(['open:remote']);
    await expect(b.fire(() => 'x')).rejects.toMatchObject({ code: 'BREAKER_OPEN' });
  });

  it('peers keep the open time the tripping replica chose', async () => {
    const { a, b, clock } = fleet();
    await fail(a);
    await fail(a);
    clock.advance(400);
    await tick();
    expect(b.stats().retryAfterMs).toBe(600);
  });

  it('limits half-open trial calls across the fleet', async () => {
    const { a, b, clock } = fleet();
    await fail(a);
    await fail(a);
    await tick();
    clock.advance(1_000);
    const hung = a.fire(() => new Promise(() => {}));
    void hung;
    await tick();
    await expect(b.fire(() => 'second probe')).rejects.toMatchObject({ state: 'half-open' });
  });

  it('a fleet permit held by a probe that never settles expires', async () => {
    const { a, b, clock, store } = fleet({ halfOpenPermitTimeout: 2_000 });
    await fail(a);
    await fail(a);
    await tick();
    clock.advance(1_000);
    void a.fire(() => new Promise(() => {}));
    await tick();
    expect(store.get('payments')!.probesInUse).toBe(1);
    clock.advance(2_000);
    expect(store.get('payments')!.probesInUse).toBe(0);
    expect(b.state).toBe('half-open');
    await expect(b.fire(() => 'probe')).resolves.toBe('probe');
  });

  it('a recovered upstream closes every peer', async () => {
    const { a, b, clock } = fleet();
    await fail(a);
    await fail(a);
    await tick();
    clock.advance(1_000);
    await a.fire(() => 'ok');
    expect(a.state).toBe('closed');
    await tick();
    expect(b.state).toBe('closed');
  });

  it('the newest round wins; an older state is ignored', async () => {
    const { a, b } = fleet();
    await fail(a);
    await fail(a);
    await tick();
    a.reset();
    await tick();
    expect(b.state).toBe('closed');
    expect(b.stats().round).toBe(a.stats().round);
  });

  it('a breaker that connects late learns the current state', async () => {
    const { a, clock, store } = fleet();
    await fail(a);
    await fail(a);
    const late = new CircuitBreaker({ name: 'payments', clock, store, timeout: 1_000 });
    await tick();
    expect(late.state).toBe('open');
  });

  it('reports counts in batches, not per call, and flushes on dispose', async () => {
    const { a, store, clock } = fleet({ failureThreshold: 1_000 });
    for (let i = 0; i < 10; i++) await a.fire(() => 'ok');
    expect(store.get('payments')!.totals.calls).toBe(0);
    clock.advance(249);
    await a.fire(() => 'ok');
    expect(store.get('payments')!.totals.calls).toBe(0);
    clock.advance(1);
    // The clock is read every 16th call, so the batch goes out with the 16th.
    for (let i = 0; i < 4; i++) await a.fire(() => 'ok');
    expect(store.get('payments')!.totals.calls).toBe(0);
    await a.fire(() => 'ok');
    expect(store.get('payments')!.totals.calls).toBe(16);
    await fail(a);
    a.dispose();
    expect(store.get('payments')!.totals).toEqual({ calls: 17, failures: 1, slow: 0 });
  });

  it('forgets a name when its last breaker leaves', async () => {
    const { a, b, store } = fleet();
    a.dispose();
    expect(store.get('payments')!.replicas).toBe(1);
    b.dispose();
    expect(store.get('payments')).toBeUndefined();
  });
});

describe('StateStore contract', () => {
  it('a store that fails is reported through store-error and never fails a call', async () => {
    const failing: StateStore = {
      connect(_name, replica) {
        return {
          publish() {
            replica.reportError(new Error('store unreachable'));
          },
          report(_batch: OutcomeBatch) {},
          tryAcquireProbe: () => true,
          releaseProbe() {},
          close() {},
        };
      },
    };
    const breaker = new CircuitBreaker({ store: failing, failureThreshold: 1, clock: new ManualClock() });
    const errors: unknown[] = [];
    breaker.on('store-error', (event) => errors.push(event.error));
    await expect(breaker.fire(() => 'ok')).resolves.toBe('ok');
    await fail(breaker);
    expect(breaker.state).toBe('open');
    expect(errors).toHaveLength(1);
  });

  it('publishes each local change with its round, reason and origin', async () => {
    const published: SharedState[] = [];
    const store: StateStore = {
      connect: () => ({
        publish: (state) => published.push(state),
        report() {},
        tryAcquireProbe: () => true,
        releaseProbe() {},
        close() {},
      }),
    };
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'p', store, clock, failureThreshold: 1, timeout: 100 });
    await fail(breaker);
    expect(published).toEqual([
      expect.objectContaining({
        name: 'p',
        state: 'open',
        round: 1,
        reason: 'consecutive-failures',
        openUntil: clock.now() + 100,
      }),
    ]);
    expect(published[0]!.origin).toMatch(/^p#/);
  });
});

describe('shared rounds', () => {
  it('a replica takes the round of a shared state it adopts, however far ahead, and counts on from it', () => {
    let replica: StoreReplica | undefined;
    const published: SharedState[] = [];
    const store: StateStore = {
      connect(_name, r) {
        replica = r;
        return {
          publish: (state) => void published.push(state),
          report() {},
          tryAcquireProbe: () => true,
          releaseProbe() {},
          close() {},
        };
      },
    };
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'p', store, clock, timeout: 1_000 });
    replica!.applyRemote({
      version: 1,
      name: 'p',
      state: 'open',
      round: 7,
      openedAt: clock.now(),
      openUntil: clock.now() + 5_000,
      trips: 2,
      reason: 'failure-rate',
      origin: 'another replica',
    });
    expect(breaker.state).toBe('open');
    expect(breaker.stats().round).toBe(7);
    breaker.reset();
    expect(breaker.stats().round).toBe(8);
    expect(published.at(-1)).toMatchObject({ state: 'closed', round: 8 });
  });

  it('a change the store kept local does not make the replica deaf to later shared states', async () => {
    let replica: StoreReplica | undefined;
    const store: StateStore = {
      connect(_name, r) {
        replica = r;
        // This store shares nothing a replica publishes, as one that wants a quorum may do.
        return { publish() {}, report() {}, tryAcquireProbe: () => true, releaseProbe() {}, close() {} };
      },
    };
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'p', store, clock, failureThreshold: 1, timeout: 1_000 });
    await fail(breaker);
    clock.advance(1_000);
    await breaker.fire(() => 'ok');
    expect(breaker.stats().round).toBe(3);
    const shared = (state: SharedState['state'], round: number): SharedState => ({
      version: 1,
      name: 'p',
      state,
      round,
      openedAt: clock.now(),
      openUntil: state === 'open' ? clock.now() + 5_000 : null,
      trips: 1,
      reason: 'failure-rate',
      origin: 'another replica',
    });
    replica!.applyRemote(shared('open', 1));
    expect(breaker.state).toBe('open');
    expect(breaker.stats().retryAfterMs).toBe(5_000);
    replica!.applyRemote(shared('closed', 2));
    expect(breaker.state).toBe('closed');
    replica!.applyRemote(shared('open', 2));
    expect(breaker.state).toBe('closed');
  });
});
