import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BreakerOpenError } from '../errors.js';
import { BreakerRegistry } from '../registry.js';
import type { StateStore, StoreSession } from '../store.js';
import { ManualClock } from '../testing.js';
import { HttpGuard, RequestCall, markBreakerAnswer, observeResponse } from './guard.js';
import { Rejection } from './problem.js';

type TestResponse = ServerResponse & { answer(status?: number): void; hangUp(): void };

/** A response that the test ends (answered, with a status) or whose client the test hangs up. */
function response(): TestResponse {
  const res = new EventEmitter() as unknown as TestResponse;
  Object.assign(res, { statusCode: 200, writableFinished: false, headersSent: false });
  res.answer = (status = 200) => {
    Object.assign(res, { statusCode: status, writableFinished: true, headersSent: true });
    res.emit('close');
  };
  res.hangUp = () => res.emit('close');
  return res;
}

/** A fleet store that asks the test, per request, whether the half-open trial permit is free. */
function fleetThatAsks() {
  const pending: ((free: boolean) => void)[] = [];
  const events: string[] = [];
  const session: StoreSession = {
    publish() {},
    report() {},
    tryAcquireProbe: () => false,
    acquireProbe: () => new Promise<boolean>((resolve) => pending.push(resolve)),
    releaseProbe: () => events.push('permit given back'),
    close() {},
  };
  const store: StateStore = { connect: () => session };
  return { store, events, reply: (free: boolean) => pending.shift()?.(free) };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A guard whose breaker trips on one failure and stays open for a second. */
function guardWith(options: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const registry = new BreakerRegistry();
  const guard = new HttpGuard<object>(
    { name: 'partner', registry, clock, failureThreshold: 1, timeout: 1_000, ...options },
    'test',
  );
  return { clock, registry, guard };
}

function admitted(entry: unknown): RequestCall {
  if (!(entry instanceof RequestCall)) throw new Error(`not admitted: ${String(entry)}`);
  return entry;
}

describe('a watched response', () => {
  it('records the status sent and the error the framework saw when the response closes finished', () => {
    const { guard } = guardWith({ failureThreshold: 10 });
    const failures: unknown[] = [];
    guard.breakerFor({}).on('failure', ({ error }) => failures.push(error));
    const thrown = new Error('upstream refused');
    const res = response();
    observeResponse(res, admitted(guard.enter({}, res)), () => thrown);
    res.answer(502);
    expect(failures).toEqual([thrown]);
    const ok = response();
    observeResponse(ok, admitted(guard.enter({}, ok)), () => undefined);
    ok.answer(201);
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ failures: 1, successes: 1, ignored: 0 });
  });

  it('counts a 503 that another breaker answered neither way, and the breaker stays closed', () => {
    const { guard } = guardWith();
    const res = response();
    observeResponse(res, admitted(guard.enter({}, res)), () => undefined);
    markBreakerAnswer(res);
    res.answer(503);
    expect(guard.breakerFor({}).state).toBe('closed');
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ failures: 0, successes: 0, ignored: 1 });
  });

  it('counts a client that hangs up neither way', () => {
    const { guard } = guardWith();
    const res = response();
    observeResponse(res, admitted(guard.enter({}, res)), () => new Error('never asked'));
    res.hangUp();
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ failures: 0, successes: 0, ignored: 1 });
  });

  it('gives back the bulkhead slot when the response closes, answered or not', async () => {
    const { guard } = guardWith({ bulkhead: { maxConcurrent: 1 } });
    for (const close of [(res: TestResponse) => res.answer(200), (res: TestResponse) => res.hangUp()]) {
      const res = response();
      observeResponse(res, admitted(await guard.enter({}, res)), () => undefined);
      expect(await guard.enter({}, response())).toMatchObject({ reason: 'bulkhead-full' });
      close(res);
      await settle();
    }
    expect(await guard.enter({}, response())).toBeInstanceOf(RequestCall);
  });
});

describe('admission by the breaker', () => {
  it('turns a request away with the open breaker as a Rejection, and frees its bulkhead slot', async () => {
    const { guard } = guardWith({ bulkhead: { maxConcurrent: 1 } });
    const failing = admitted(await guard.enter({}, response()));
    failing.finish(500);
    failing.release();
    await settle();
    const rejection = await guard.enter({}, response());
    expect(rejection).toBeInstanceOf(Rejection);
    expect(rejection).toMatchObject({ reason: 'open', error: expect.any(BreakerOpenError) });
    await settle();
    expect(guard.bulkheads?.peek('partner')?.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it('passes on an error of the breaker that is not a rejection', () => {
    const clock = new ManualClock();
    let broken = false;
    const failing = {
      now: () => {
        if (broken) throw new Error('clock stopped');
        return clock.now();
      },
      setTimeout: clock.setTimeout.bind(clock),
      clearTimeout: clock.clearTimeout.bind(clock),
    };
    const { guard } = guardWith({ clock: failing });
    guard.breakerFor({});
    broken = true;
    expect(() => guard.enter({}, response())).toThrow('clock stopped');
  });

  it('names keyed breakers name:key', () => {
    const { guard } = guardWith({ key: (req: { tenant: number }) => req.tenant });
    expect(guard.nameFor({ tenant: 7 })).toBe('partner:7');
    expect(guard.breakerFor({ tenant: 7 }).name).toBe('partner:7');
  });
});

describe('a half-open breaker that asks its fleet for the trial', () => {
  async function halfOpen(options: Record<string, unknown> = {}) {
    const fleet = fleetThatAsks();
    const setup = guardWith({ store: fleet.store, ...options });
    const failing = admitted(await setup.guard.enter({}, response()));
    failing.finish(500);
    failing.release();
    await settle();
    setup.clock.advance(1_000);
    return { ...setup, fleet };
  }

  it('admits the request once the fleet grants the trial, and no longer watches for a hang-up', async () => {
    const { guard, fleet } = await halfOpen();
    const res = response();
    const entry = guard.enter({}, res);
    expect(entry).toBeInstanceOf(Promise);
    fleet.reply(true);
    const call = admitted(await entry);
    expect(res.listenerCount('close')).toBe(0);
    call.finish(200);
    expect(guard.breakerFor({}).state).toBe('closed');
  });

  it('gives the trial back and answers nobody when the client hung up while the fleet answered', async () => {
    const { guard, fleet } = await halfOpen({ bulkhead: { maxConcurrent: 1 } });
    const res = response();
    const entry = guard.enter({}, res);
    await settle();
    res.hangUp();
    fleet.reply(true);
    expect(await entry).toBeUndefined();
    expect(fleet.events).toEqual(['permit given back']);
    expect(res.listenerCount('close')).toBe(0);
    await settle();
    expect(guard.bulkheads?.peek('partner')?.stats()).toMatchObject({ active: 0 });
    expect(guard.breakerFor({}).state).toBe('half-open');
  });

  it('turns the request away as half-open busy when the fleet has no trial free', async () => {
    const { guard, fleet } = await halfOpen({ bulkhead: { maxConcurrent: 1 } });
    const res = response();
    const entry = guard.enter({}, res);
    await settle();
    fleet.reply(false);
    expect(await entry).toMatchObject({ reason: 'half-open-busy' });
    expect(res.listenerCount('close')).toBe(0);
    await settle();
    expect(guard.bulkheads?.peek('partner')?.stats()).toMatchObject({ active: 0 });
  });

  it('gives the trial back when the client hung up while the fleet answered, without a bulkhead', async () => {
    const { guard, fleet } = await halfOpen();
    const res = response();
    const entry = guard.enter({}, res);
    res.hangUp();
    fleet.reply(true);
    expect(await entry).toBeUndefined();
    expect(fleet.events).toEqual(['permit given back']);
  });

  it('answers nobody when the fleet has no trial free and the client has hung up', async () => {
    const { guard, fleet } = await halfOpen();
    const res = response();
    const entry = guard.enter({}, res);
    res.hangUp();
    fleet.reply(false);
    expect(await entry).toBeUndefined();
  });
});

describe('the bulkhead queue', () => {
  it('turns a request away after queueTimeout in the queue, and tells the registry', async () => {
    const { guard, clock, registry } = guardWith({
      bulkhead: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 500 },
    });
    const rejected: unknown[] = [];
    registry.on('bulkhead-reject', (event) => rejected.push(event));
    admitted(await guard.enter({}, response()));
    const res = response();
    const queued = guard.enter({}, res);
    await settle();
    clock.advance(500);
    const entry = await queued;
    expect(entry).toMatchObject({ reason: 'bulkhead-full', error: { reason: 'queue-timeout' } });
    expect(res.listenerCount('close')).toBe(0);
    expect(rejected).toEqual([{ name: 'partner', error: (entry as Rejection).error }]);
  });

  it('admits a queued request once a slot frees, and stops watching its client for a hang-up', async () => {
    const { guard } = guardWith({ bulkhead: { maxConcurrent: 1, maxQueue: 1 } });
    const first = admitted(await guard.enter({}, response()));
    const res = response();
    const queued = guard.enter({}, res);
    await settle();
    expect(res.listenerCount('close')).toBe(1);
    first.release();
    expect(await queued).toBeInstanceOf(RequestCall);
    expect(res.listenerCount('close')).toBe(0);
  });

  it('drops a request whose client hangs up as its slot is handed over, and frees the slot', async () => {
    const { guard } = guardWith({ bulkhead: { maxConcurrent: 1, maxQueue: 1 } });
    const limit = guard.bulkheads!.get('partner');
    const first = admitted(await guard.enter({}, response()));
    const res = response();
    const queued = guard.enter({}, res);
    await settle();
    first.release();
    while (limit.stats().queued > 0) await Promise.resolve();
    res.hangUp();
    expect(await queued).toBeUndefined();
    await settle();
    expect(limit.stats()).toMatchObject({ active: 0, queued: 0 });
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ successes: 0, failures: 0, ignored: 0 });
  });

  it('drops a request whose client hangs up just as its slot comes free, and hands the slot on', async () => {
    const { guard } = guardWith({ bulkhead: { maxConcurrent: 1, maxQueue: 2 } });
    const first = admitted(await guard.enter({}, response()));
    const res = response();
    const leaving = guard.enter({}, res);
    const staying = guard.enter({}, response());
    await settle();
    first.release();
    res.hangUp();
    expect(await leaving).toBeUndefined();
    expect(await staying).toBeInstanceOf(RequestCall);
    expect(guard.breakerFor({}).stats().counts).toMatchObject({ successes: 0, failures: 0, ignored: 0 });
  });

  it('keeps one bulkhead per breaker, made with the breaker clock', async () => {
    const { guard, clock } = guardWith({
      key: (req: { tenant: string }) => req.tenant,
      bulkhead: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 100 },
    });
    admitted(await guard.enter({ tenant: 'a' }, response()));
    admitted(await guard.enter({ tenant: 'b' }, response()));
    const waiting = guard.enter({ tenant: 'a' }, response());
    let answered: unknown;
    void Promise.resolve(waiting).then((entry) => (answered = entry));
    await settle();
    clock.advance(99);
    await settle();
    expect(answered).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(answered).toMatchObject({ reason: 'bulkhead-full' });
  });
});
