// The pool guards' options, and what they do with a connection, on pools made in the test.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, InvalidOptionError } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { guardMysql, guardPg, guardPool } from '@breaker/drivers';

/** A node-postgres client whose query ends when the test says. */
class FakeClient extends EventEmitter {
  releases: unknown[] = [];
  pending: { resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  query() {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  release(destroy?: unknown) {
    this.releases.push(destroy);
  }
}

const fakePool = (client: FakeClient) => ({ connect: async () => client });

const optionOf = (make: () => unknown) => {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return error instanceof InvalidOptionError ? error.option : 'TypeError';
  }
  throw new Error('not refused');
};

describe('pool guard options', () => {
  it('refuses bad options with a TypeError that names them', () => {
    const pool = fakePool(new FakeClient());
    expect(optionOf(() => guardPg(pool, {}))).toBe('name');
    expect(optionOf(() => guardPg(pool, { name: 'db', cancelGrace: -1 }))).toBe('cancelGrace');
    expect(optionOf(() => guardPg(pool, { name: 'db', failureTreshold: 3 } as never))).toBe(
      'failureTreshold',
    );
    const breaker = new CircuitBreaker({ name: 'db' });
    expect(optionOf(() => guardPg(pool, { breaker, callTimeout: 10 }))).toBe('callTimeout');
    expect(optionOf(() => guardPg(pool, { breaker: {} as never }))).toBe('breaker');
    expect(optionOf(() => guardPool({} as never, { name: 'db' }))).toBe('TypeError');
    expect(optionOf(() => guardMysql(pool as never, { name: 'db' }))).toBe('TypeError');
    expect(guardPg(pool, { breaker }).breaker).toBe(breaker);
  });
});

describe('pg guard, on a client of the test', () => {
  it('hears a lost connection while it holds the client, and destroys it instead of giving it back', async () => {
    const client = new FakeClient();
    const db = guardPg(fakePool(client), { name: 'db' });
    const call = db.query('SELECT 1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.listenerCount('error')).toBe(1);
    client.emit('error', new Error('Connection terminated unexpectedly')); // no crash: the guard listens
    client.pending[0]!.reject(new Error('Connection terminated unexpectedly'));
    await expect(call).rejects.toThrow('Connection terminated');
    expect(client.releases).toEqual([expect.any(Error)]);
    expect(client.listenerCount('error')).toBe(0);
  });

  it('gives a client back after an error the server answered, and destroys it after a fault', async () => {
    const client = new FakeClient();
    const db = guardPg(fakePool(client), { name: 'db' });
    const first = db.query('INSERT');
    await new Promise((resolve) => setImmediate(resolve));
    client.pending[0]!.reject(
      Object.assign(new Error('duplicate key'), { code: '23505', severity: 'ERROR' }),
    );
    await expect(first).rejects.toMatchObject({ code: '23505' });
    const second = db.query('SELECT 1');
    await new Promise((resolve) => setImmediate(resolve));
    client.pending[1]!.reject(
      Object.assign(new Error('terminating connection'), { code: '57P01', severity: 'FATAL' }),
    );
    await expect(second).rejects.toMatchObject({ code: '57P01' });
    expect(client.releases).toEqual([undefined, expect.objectContaining({ code: '57P01' })]);
    expect(db.breaker.stats().counts).toMatchObject({ ignored: 1, failures: 1 });
  });

  it('destroys a client whose query outlives the grace period, on the breaker clock', async () => {
    const clock = new ManualClock();
    const client = new FakeClient();
    const db = guardPg(fakePool(client), { name: 'db', clock, callTimeout: 100, cancelGrace: 1_000 });
    const call = db.query('SELECT pg_sleep(30)');
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(100);
    await expect(call).rejects.toMatchObject({ code: 'BREAKER_TIMEOUT' });
    expect(client.releases).toEqual([]);
    clock.advance(999);
    expect(client.releases).toEqual([]);
    clock.advance(1);
    expect(client.releases).toEqual([expect.any(Error)]);
    client.pending[0]!.reject(new Error('Connection terminated'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.releases).toHaveLength(1); // never released twice
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives back at once a client that arrives after the caller gave up', async () => {
    const client = new FakeClient();
    let hand: (value: FakeClient) => void = () => {};
    const db = guardPg(
      { connect: () => new Promise<FakeClient>((resolve) => (hand = resolve)) },
      { name: 'db' },
    );
    const controller = new AbortController();
    const call = db.query('SELECT 1', [], { signal: controller.signal });
    controller.abort(new Error('client hung up'));
    await expect(call).rejects.toThrow('client hung up');
    hand(client);
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.pending).toHaveLength(0); // no query sent
    expect(client.releases).toEqual([undefined]);
  });

  it('after a cancel, gives back only a client whose query the cancel ended', async () => {
    const client = new FakeClient();
    const db = guardPg(fakePool(client), { name: 'db' });
    // The caller gives up, but the query had already finished: the CancelRequest may still be on its way
    // and would stop whatever the client runs next, so the client is destroyed.
    const first = new AbortController();
    const late = db.query('SELECT 1', [], { signal: first.signal });
    await new Promise((resolve) => setImmediate(resolve));
    first.abort(new Error('gave up'));
    client.pending[0]!.resolve({ rows: [] });
    await expect(late).rejects.toThrow('gave up');
    await new Promise((resolve) => setImmediate(resolve));
    // Ended by the cancel (57014): the cancel is spent, and the client goes back.
    const second = new AbortController();
    const cancelled = db.query('SELECT pg_sleep(30)', [], { signal: second.signal });
    await new Promise((resolve) => setImmediate(resolve));
    second.abort(new Error('gave up'));
    client.pending[1]!.reject(
      Object.assign(new Error('canceling statement'), { code: '57014', severity: 'ERROR' }),
    );
    await expect(cancelled).rejects.toThrow('gave up');
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.releases).toEqual([true, undefined]);
  });

  it('refuses a query run with a callback, and gives the client back', async () => {
    const client = new FakeClient();
    client.query = (() => undefined) as never;
    const db = guardPg(fakePool(client), { name: 'db' });
    await expect(db.query('SELECT 1')).rejects.toThrow(TypeError);
    expect(client.releases).toHaveLength(1);
  });
});
