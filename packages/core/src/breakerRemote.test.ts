import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { BreakerOptions } from './options.js';
import type { SharedState, StoreReplica } from './store.js';
import { ManualClock } from './testing.js';

/** A breaker on a store that shares nothing of its own: the test delivers the fleet's states. */
function replicaOf(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  let replica: StoreReplica | undefined;
  const published: SharedState[] = [];
  const released: number[] = [];
  const breaker = new CircuitBreaker({
    name: 'partner',
    clock,
    timeout: 1_000,
    ...options,
    store: {
      connect(_name, connecting) {
        replica = connecting;
        return {
          publish: (state: SharedState) => void published.push(state),
          report() {},
          tryAcquireProbe: () => true,
          releaseProbe: () => void released.push(clock.now()),
          close() {},
        };
      },
    },
  });
  const events: unknown[] = [];
  breaker.on('state-change', (event) => events.push(event));
  const deliver = (fields: Partial<SharedState>) =>
    replica!.applyRemote({
      version: 1,
      name: 'partner',
      state: 'open',
      round: 1,
      openedAt: clock.now(),
      openUntil: clock.now() + 5_000,
      trips: 1,
      reason: 'failure-rate',
      origin: 'another replica',
      ...fields,
    });
  return { clock, breaker, events, deliver, published, released, id: replica!.id };
}

const fail = (breaker: CircuitBreaker) => breaker.acquire().failure(new Error('down'));

describe('a state shared by another replica', () => {
  it('is adopted with its open time, trips and round, and told as a remote change', () => {
    const { breaker, clock, deliver } = replicaOf({ timeoutMultiplier: 2, maxTimeout: 60_000 });
    const opens: unknown[] = [];
    breaker.on('open', (event) => opens.push(event));
    const openedAt = clock.now() - 2_000;
    deliver({ round: 6, trips: 3, openedAt, openUntil: openedAt + 8_000 });
    const at = clock.now();
    expect(opens).toEqual([
      { from: 'closed', to: 'open', reason: 'remote', at, retryAfterMs: 6_000, trips: 3 },
    ]);
    expect(breaker.stats()).toMatchObject({
      state: 'open',
      round: 6,
      openedAt,
      retryAfterMs: 6_000,
      trips: 3,
    });
    expect(breaker.toJSON()).toEqual({
      version: 1,
      name: 'partner',
      state: 'open',
      round: 6,
      openedAt,
      openUntil: openedAt + 8_000,
      trips: 3,
    });
    clock.advance(6_000);
    expect(breaker.state).toBe('half-open');
    fail(breaker);
    // The trips it adopted keep the open time growing: 1 s × 2³.
    expect(breaker.stats()).toMatchObject({ trips: 4, retryAfterMs: 8_000, round: 8 });
  });

  it('without an open time, is open for the local timeout from now', () => {
    const { breaker, clock, deliver } = replicaOf({ timeout: 3_000 });
    deliver({ openedAt: null, openUntil: null });
    expect(breaker.stats()).toMatchObject({ state: 'open', openedAt: null, retryAfterMs: 3_000 });
    expect(breaker.toJSON().openUntil).toBe(clock.now() + 3_000);
  });

  it('without an open time but with an end, is open until that end', () => {
    const { breaker, clock, deliver } = replicaOf();
    deliver({ openedAt: null, openUntil: clock.now() + 700 });
    expect(breaker.stats().retryAfterMs).toBe(700);
  });

  it.each(['half-open', 'forced-open', 'disabled'] as const)(
    '%s is adopted as it is, and not published again',
    (state) => {
      const { breaker, events, deliver, clock, published } = replicaOf();
      deliver({ state, openUntil: null, round: 2 });
      expect(breaker.state).toBe(state);
      expect(events).toEqual([{ from: 'closed', to: state, reason: 'remote', at: clock.now() }]);
      expect(published).toEqual([]);
    },
  );

  it('does not go back behind a round the replica already passed by itself', () => {
    const { breaker, deliver } = replicaOf({ failureThreshold: 1 });
    breaker.forceOpen();
    breaker.reset();
    breaker.disable();
    breaker.reset();
    expect(breaker.stats().round).toBe(4);
    deliver({ round: 2 });
    expect(breaker.stats()).toMatchObject({ state: 'open', round: 5 });
  });

  it('of a round already seen, or an older one, is ignored', () => {
    const { breaker, events, deliver } = replicaOf();
    deliver({ state: 'forced-open', openUntil: null, round: 5 });
    deliver({ state: 'disabled', openUntil: null, round: 5 });
    deliver({ state: 'half-open', openUntil: null, round: 4 });
    expect(breaker.state).toBe('forced-open');
    expect(events).toHaveLength(1);
    deliver({ state: 'disabled', openUntil: null, round: 6 });
    expect(breaker.state).toBe('disabled');
  });

  it('that this replica made itself changes nothing, but its round is seen', () => {
    const { breaker, events, deliver, id } = replicaOf();
    deliver({ state: 'forced-open', openUntil: null, round: 3, origin: id });
    expect(breaker.state).toBe('closed');
    deliver({ state: 'forced-open', openUntil: null, round: 3 });
    expect(breaker.state).toBe('closed');
    expect(events).toEqual([]);
    breaker.reset();
    expect(breaker.stats().round).toBe(4);
  });

  it('that the replica is already in changes nothing, not even its counts', () => {
    const { breaker, events, deliver } = replicaOf({ failureThreshold: 3 });
    fail(breaker);
    fail(breaker);
    deliver({ state: 'closed', openedAt: null, openUntil: null, trips: 0, round: 1 });
    expect(events).toEqual([]);
    expect(breaker.stats()).toMatchObject({ consecutiveFailures: 2, round: 0 });
    fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('open with the same end as the local open state changes nothing; with another end, it is adopted', () => {
    const { breaker, clock, events, deliver } = replicaOf({ failureThreshold: 1 });
    const openedAt = clock.now();
    fail(breaker);
    expect(events).toHaveLength(1);
    deliver({ round: 2, trips: 5, openedAt, openUntil: openedAt + 1_000 });
    expect(events).toHaveLength(1);
    expect(breaker.stats()).toMatchObject({ trips: 1, round: 1 });
    deliver({ round: 3, trips: 5, openedAt, openUntil: openedAt + 4_000 });
    expect(events).toEqual([
      expect.objectContaining({ reason: 'consecutive-failures' }),
      { from: 'open', to: 'open', reason: 'remote', at: openedAt },
    ]);
    expect(breaker.stats()).toMatchObject({ trips: 5, round: 3, retryAfterMs: 4_000 });
    clock.advance(1_000);
    expect(breaker.state).toBe('open');
  });

  it('closed clears the run of failures and the window gathered before', () => {
    const { breaker, deliver } = replicaOf({
      failureThreshold: 3,
      failureRateThreshold: 90,
      minimumCalls: 10,
    });
    fail(breaker);
    fail(breaker);
    breaker.forceOpen();
    deliver({ state: 'closed', openedAt: null, openUntil: null, trips: 0, round: 5, reason: 'reset' });
    expect(breaker.stats()).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
      trips: 0,
      recovery: null,
      window: { calls: 0, failures: 0 },
    });
    fail(breaker);
    fail(breaker);
    expect(breaker.state).toBe('closed');
  });

  it('is ignored once the breaker is disposed', () => {
    const { breaker, events, deliver } = replicaOf();
    breaker.dispose();
    deliver({ round: 9 });
    expect(breaker.state).toBe('closed');
    expect(events).toEqual([]);
  });

  it('of another breaker is refused with a store-error naming both', () => {
    const { breaker, deliver } = replicaOf();
    const errors: unknown[] = [];
    breaker.on('store-error', ({ error }) => errors.push(error));
    deliver({ name: 'other', round: 9 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect((errors[0] as Error).message).toMatchInlineSnapshot(
      `"Ignored a shared state for breaker "partner": it is the state of "other"."`,
    );
    deliver({ round: 9, trips: -1 });
    expect((errors[1] as Error).message).toMatchInlineSnapshot(
      `"Ignored a shared state for breaker "partner": "trips" is not a whole number from 0 to 1000000000."`,
    );
    expect(breaker.state).toBe('closed');
  });

  it('arriving while an ignored trial is told, leaves the trials of the new round alone', () => {
    const { breaker, clock, deliver, released } = replicaOf({ failureThreshold: 1 });
    fail(breaker);
    clock.advance(1_000);
    const trial = breaker.acquire();
    let next: ReturnType<CircuitBreaker['acquire']> | undefined;
    breaker.on('ignored', () => {
      deliver({ state: 'closed', openUntil: null, round: 10 });
      deliver({ state: 'half-open', openUntil: null, round: 11 });
      next = breaker.acquire();
    });
    trial.ignore();
    expect(released).toEqual([]);
    expect(breaker.stats().halfOpen).toEqual({ successes: 0, inFlight: 1 });
    next!.success();
    expect(breaker.state).toBe('closed');
  });
});
