import { describe, expect, it } from 'vitest';
import { resolveOptions } from './options.js';
import { MemoryStore, type SharedState, type StoreReplica } from './store.js';
import { ManualClock } from './testing.js';

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

/** A replica that records the states the store delivers to it. */
function replica(id: string) {
  const received: SharedState[] = [];
  const errors: unknown[] = [];
  const self: StoreReplica & { received: SharedState[]; errors: unknown[] } = {
    id,
    options: resolveOptions({ name: 'payments' }),
    applyRemote: (state) => void received.push(state),
    reportError: (error) => void errors.push(error),
    received,
    errors,
  };
  return self;
}

const state = (round: number, origin = 'a', open = true): SharedState => ({
  version: 1,
  name: 'payments',
  state: open ? 'open' : 'closed',
  round,
  openedAt: open ? 1_000 : null,
  openUntil: open ? 2_000 : null,
  trips: open ? 1 : 0,
  reason: open ? 'consecutive-failures' : 'reset',
  origin,
});

function setup() {
  const clock = new ManualClock(0);
  const store = new MemoryStore({ clock });
  return { clock, store };
}

describe('MemoryStore sessions', () => {
  it('knows nothing of a name no breaker connected to', () => {
    expect(new MemoryStore().get('payments')).toBeUndefined();
  });

  it('holds an empty entry for a newly connected name', () => {
    const { store } = setup();
    store.connect('payments', replica('a'));
    expect(store.get('payments')).toEqual({
      state: undefined,
      replicas: 1,
      probesInUse: 0,
      totals: { calls: 0, failures: 0, slow: 0 },
    });
    expect(store.get('orders')).toBeUndefined();
  });

  it('shares a published state with the other replicas on the next microtask, not with its author', async () => {
    const { store } = setup();
    const a = replica('a');
    const b = replica('b');
    const c = replica('c');
    const session = store.connect('payments', a);
    store.connect('payments', b);
    store.connect('payments', c);
    store.connect('orders', replica('elsewhere'));
    session.publish(state(1));
    expect(b.received).toEqual([]);
    await tick();
    expect(a.received).toEqual([]);
    expect(b.received).toEqual([state(1)]);
    expect(c.received).toEqual([state(1)]);
    expect(store.get('payments')!.state).toEqual(state(1));
    expect(store.get('orders')!.state).toBeUndefined();
  });

  it('keeps the newest round: a state of the same or an older round is dropped', async () => {
    const { store } = setup();
    const b = replica('b');
    const session = store.connect('payments', replica('a'));
    store.connect('payments', b);
    session.publish(state(2));
    session.publish(state(2, 'another', false));
    session.publish(state(1, 'another', false));
    await tick();
    expect(store.get('payments')!.state).toEqual(state(2));
    expect(b.received).toEqual([state(2)]);
    session.publish(state(3, 'a', false));
    await tick();
    expect(store.get('payments')!.state).toEqual(state(3, 'a', false));
    expect(b.received).toEqual([state(2), state(3, 'a', false)]);
  });

  it('hands the current state to a replica that connects later, on the next microtask', async () => {
    const { store } = setup();
    store.connect('payments', replica('a')).publish(state(5));
    const late = replica('late');
    store.connect('payments', late);
    expect(late.received).toEqual([]);
    await tick();
    expect(late.received).toEqual([state(5)]);
  });

  it('adds up the counts every replica reports', () => {
    const { store } = setup();
    store.connect('payments', replica('a')).report({ calls: 10, failures: 3, slow: 1 });
    store.connect('payments', replica('b')).report({ calls: 5, failures: 2, slow: 4 });
    expect(store.get('payments')!.totals).toEqual({ calls: 15, failures: 5, slow: 5 });
  });

  it('gives copies of its totals, which callers cannot change', () => {
    const { store } = setup();
    store.connect('payments', replica('a')).report({ calls: 1, failures: 1, slow: 0 });
    store.get('payments')!.totals.calls = 99;
    expect(store.get('payments')!.totals.calls).toBe(1);
  });
});

describe('MemoryStore trial permits', () => {
  it('grants at most `limit` permits across the fleet', () => {
    const { store } = setup();
    const a = store.connect('payments', replica('a'));
    const b = store.connect('payments', replica('b'));
    expect(a.tryAcquireProbe(2, 1_000)).toBe(true);
    expect(b.tryAcquireProbe(2, 1_000)).toBe(true);
    expect(b.tryAcquireProbe(2, 1_000)).toBe(false);
    expect(a.tryAcquireProbe(3, 1_000)).toBe(true);
    expect(store.get('payments')!.probesInUse).toBe(3);
  });

  it('a permit expires exactly `ttlMs` after it was taken', () => {
    const { store, clock } = setup();
    const a = store.connect('payments', replica('a'));
    const b = store.connect('payments', replica('b'));
    expect(a.tryAcquireProbe(1, 500)).toBe(true);
    clock.advance(499);
    expect(store.get('payments')!.probesInUse).toBe(1);
    expect(b.tryAcquireProbe(1, 500)).toBe(false);
    clock.advance(1);
    expect(store.get('payments')!.probesInUse).toBe(0);
    expect(b.tryAcquireProbe(1, 500)).toBe(true);
    expect(store.get('payments')!.probesInUse).toBe(1);
  });

  it('a released permit is free again; a replica releases only its own', () => {
    const { store } = setup();
    const a = store.connect('payments', replica('a'));
    const b = store.connect('payments', replica('b'));
    const c = store.connect('payments', replica('c'));
    expect(a.tryAcquireProbe(2, 1_000)).toBe(true);
    expect(b.tryAcquireProbe(2, 1_000)).toBe(true);
    c.releaseProbe();
    expect(store.get('payments')!.probesInUse).toBe(2);
    expect(c.tryAcquireProbe(2, 1_000)).toBe(false);
    b.releaseProbe();
    expect(store.get('payments')!.probesInUse).toBe(1);
    expect(c.tryAcquireProbe(2, 1_000)).toBe(true);
    // a's permit is the one still held besides c's: releasing c leaves a's.
    c.releaseProbe();
    expect(b.tryAcquireProbe(2, 1_000)).toBe(true);
    expect(c.tryAcquireProbe(2, 1_000)).toBe(false);
  });

  it('a releasing replica gives back one permit at a time', () => {
    const { store } = setup();
    const a = store.connect('payments', replica('a'));
    expect(a.tryAcquireProbe(3, 1_000)).toBe(true);
    expect(a.tryAcquireProbe(3, 1_000)).toBe(true);
    a.releaseProbe();
    expect(store.get('payments')!.probesInUse).toBe(1);
  });

  it('a new round frees every permit of the old one', () => {
    const { store } = setup();
    const a = store.connect('payments', replica('a'));
    const b = store.connect('payments', replica('b'));
    expect(a.tryAcquireProbe(1, 1_000)).toBe(true);
    b.publish(state(1));
    expect(store.get('payments')!.probesInUse).toBe(0);
    expect(b.tryAcquireProbe(1, 1_000)).toBe(true);
    b.publish(state(1, 'b', false));
    expect(store.get('payments')!.probesInUse).toBe(1);
  });

  it('reads time from the system clock by default', () => {
    const store = new MemoryStore();
    const session = store.connect('payments', replica('a'));
    expect(session.tryAcquireProbe(2, 60_000)).toBe(true);
    expect(store.get('payments')!.probesInUse).toBe(1);
    expect(session.tryAcquireProbe(2, -1)).toBe(true);
    expect(store.get('payments')!.probesInUse).toBe(1);
  });
});

describe('MemoryStore closing', () => {
  it('a closed session shares nothing, counts nothing and takes no permit', async () => {
    const { store } = setup();
    const b = replica('b');
    const session = store.connect('payments', replica('a'));
    store.connect('payments', b);
    session.close();
    session.publish(state(1));
    session.report({ calls: 1, failures: 1, slow: 1 });
    expect(session.tryAcquireProbe(1, 1_000)).toBe(false);
    await tick();
    expect(b.received).toEqual([]);
    expect(store.get('payments')).toEqual({
      state: undefined,
      replicas: 1,
      probesInUse: 0,
      totals: { calls: 0, failures: 0, slow: 0 },
    });
  });

  it('closing gives back the permits the session held, and no other', () => {
    const { store } = setup();
    const a = store.connect('payments', replica('a'));
    const b = store.connect('payments', replica('b'));
    expect(a.tryAcquireProbe(3, 1_000)).toBe(true);
    expect(a.tryAcquireProbe(3, 1_000)).toBe(true);
    expect(b.tryAcquireProbe(3, 1_000)).toBe(true);
    a.close();
    expect(store.get('payments')!.probesInUse).toBe(1);
  });

  it('a replica that left receives no more states', async () => {
    const { store } = setup();
    const b = replica('b');
    const a = store.connect('payments', replica('a'));
    store.connect('payments', b).close();
    a.publish(state(1));
    await tick();
    expect(b.received).toEqual([]);
  });

  it('closing twice leaves a later session of the same name alone', () => {
    const { store } = setup();
    const first = store.connect('payments', replica('a'));
    first.close();
    expect(store.get('payments')).toBeUndefined();
    store.connect('payments', replica('b'));
    first.close();
    expect(store.get('payments')!.replicas).toBe(1);
  });
});
