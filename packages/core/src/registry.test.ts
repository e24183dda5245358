import { describe, expect, it } from 'vitest';
import { BreakerOpenError, InvalidOptionError } from './errors.js';
import { BreakerRegistry } from './registry.js';
import { ManualClock } from './testing.js';

describe('BreakerRegistry', () => {
  it('creates a breaker on first use and returns the same one after', () => {
    const registry = new BreakerRegistry();
    const first = registry.get('payments');
    expect(registry.get('payments')).toBe(first);
    expect(first.name).toBe('payments');
    expect(registry.size).toBe(1);
  });

  it('lays per-name overrides and call options over shared defaults', () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      defaults: { clock, failureThreshold: 3, timeout: 1_000 },
      overrides: { search: { failureThreshold: 10 } },
    });
    expect(registry.get('payments').options).toMatchObject({ failureThreshold: 3, timeout: 1_000 });
    expect(registry.get('search').options).toMatchObject({ failureThreshold: 10, timeout: 1_000 });
    expect(registry.get('ads', { timeout: 50 }).options).toMatchObject({ failureThreshold: 3, timeout: 50 });
  });

  it('checks defaults and overrides when it is made', () => {
    expect(() => new BreakerRegistry({ defaults: { failureThreshold: 0 } })).toThrow(InvalidOptionError);
    expect(() => new BreakerRegistry({ defaults: { failureThreshold: 0 } })).toThrow(
      /BreakerRegistry defaults option "failureThreshold"/,
    );
    expect(() => new BreakerRegistry({ overrides: { a: { resetTimeout: 1 } as never } })).toThrow(
      /Did you mean `timeout`/,
    );
    expect(() => new BreakerRegistry({ maxSize: 0 })).toThrow(/maxSize/);
    expect(() => new BreakerRegistry({ max: 5 } as never)).toThrow(/Unknown BreakerRegistry option "max"/);
  });

  it('evicts the least recently used breaker beyond maxSize and disposes it', () => {
    const registry = new BreakerRegistry({ maxSize: 2 });
    const evicted: string[] = [];
    const added: string[] = [];
    registry.on('add', ({ breaker }) => added.push(breaker.name));
    registry.on('evict', ({ breaker }) => evicted.push(breaker.name));
    registry.get('a');
    registry.get('b');
    registry.get('a');
    registry.get('c');
    expect(evicted).toEqual(['b']);
    expect(added).toEqual(['a', 'b', 'c']);
    expect(registry.list().map((b) => b.name)).toEqual(['a', 'c']);
  });

  it('never evicts an open breaker, and a half-open one only when no closed one can go', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      maxSize: 2,
      defaults: { clock, failureThreshold: 1, timeout: 100 },
    });
    await registry
      .get('open')
      .fire(() => Promise.reject(new Error('down')))
      .catch(() => {});
    await registry
      .get('half-open')
      .fire(() => Promise.reject(new Error('down')))
      .catch(() => {});
    clock.advance(100);
    await registry
      .get('open')
      .fire(() => Promise.reject(new Error('down')))
      .catch(() => {});
    expect(registry.peek('half-open')!.state).toBe('half-open');
    // Nothing closed to drop: the half-open breaker, whose open time is over, makes room.
    registry.get('closed-1');
    expect(registry.has('half-open')).toBe(false);
    // Now a closed one goes first.
    registry.get('closed-2');
    expect(
      registry
        .list()
        .map((b) => b.name)
        .sort(),
    ).toEqual(['closed-2', 'open']);
    expect(registry.peek('open')!.state).toBe('open');
  });

  it('holds a bounded number of keyed breakers however many keys arrive', () => {
    const registry = new BreakerRegistry({ maxSize: 100 });
    for (let i = 0; i < 10_000; i++) registry.get(`user:${i}`);
    expect(registry.size).toBe(100);
    expect(registry.has('user:9999')).toBe(true);
    expect(registry.has('user:0')).toBe(false);
  });

  it('lists, deletes and disposes breakers', () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ defaults: { clock } });
    const a = registry.get('a');
    registry.get('b');
    expect([...registry].map((b) => b.name)).toEqual(['a', 'b']);
    a.forceOpen();
    expect(registry.delete('a')).toBe(true);
    expect(registry.delete('a')).toBe(false);
    registry.dispose();
    expect(registry.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('disposing the registry disposes the breakers it holds: no timer of an open one is left', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ defaults: { clock, failureThreshold: 1, timeout: 5_000 } });
    const breaker = registry.get('a');
    await breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(clock.pendingTimers).toBe(1);
    const changes: string[] = [];
    breaker.on('state-change', (event) => changes.push(event.to));
    registry.dispose();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    expect(changes).toEqual([]);
  });

  it('two registries never share breakers', () => {
    expect(new BreakerRegistry().get('x')).not.toBe(new BreakerRegistry().get('x'));
  });
});

describe('BreakerRegistry events', () => {
  it('emits evict for deleted and disposed breakers, and add only once the bound holds', () => {
    const registry = new BreakerRegistry({ maxSize: 1 });
    const seen: string[] = [];
    registry.on('add', ({ breaker }) => seen.push(`add ${breaker.name} size ${registry.size}`));
    registry.on('evict', ({ breaker }) => seen.push(`evict ${breaker.name}`));
    registry.get('a');
    registry.get('b');
    registry.delete('b');
    registry.get('c');
    registry.dispose();
    expect(seen).toEqual(['add a size 1', 'evict a', 'add b size 1', 'evict b', 'add c size 1', 'evict c']);
    expect(registry.listenerCount('evict')).toBe(1);
  });
});

describe('BreakerRegistry brand', () => {
  it('instanceof accepts a registry from another copy of the package and nothing else', () => {
    const foreign = Object.create(null) as object;
    Object.defineProperty(foreign, Symbol.for('@breaker/core/registry'), { value: true });
    expect(foreign).toBeInstanceOf(BreakerRegistry);
    expect(new BreakerRegistry()).toBeInstanceOf(BreakerRegistry);
    expect({ on() {}, peek() {}, list() {} }).not.toBeInstanceOf(BreakerRegistry);
  });
});

describe('BreakerRegistry full of breakers it cannot drop', () => {
  const down = () => Promise.reject(new Error('down'));

  /** A registry of `maxSize` 5 whose five breakers, `partner:0` to `partner:4`, are all open. */
  async function fullOfOpenBreakers() {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      maxSize: 5,
      defaults: { clock, failureThreshold: 2, timeout: 10_000 },
    });
    let largest = 0;
    registry.on('add', () => (largest = Math.max(largest, registry.size)));
    for (let i = 0; i < 5; i++) {
      const breaker = registry.get(`partner:${i}`, undefined, 'partner');
      for (let n = 0; n < 2; n++) await breaker.fire(down).catch(() => {});
      expect(breaker.state).toBe('open');
    }
    return { clock, registry, largest: () => largest };
  }

  /** Calls `name`'s breaker `times` times with a failing call; returns how many reached it and the last error. */
  async function failThrough(registry: BreakerRegistry, name: string, times: number, group?: string) {
    let reached = 0;
    let last: unknown;
    for (let i = 0; i < times; i++) {
      last = await registry
        .get(name, undefined, group)
        .fire(() => {
          reached++;
          return down();
        })
        .catch((error: unknown) => error);
    }
    return { reached, last };
  }

  it('keeps protecting a new name: its failures trip a shared overflow breaker, then calls fail fast', async () => {
    const { registry, largest } = await fullOfOpenBreakers();
    const { reached, last } = await failThrough(registry, 'partner:victim', 10, 'partner');
    expect(reached).toBe(2);
    expect(last).toBeInstanceOf(BreakerOpenError);
    expect(last).toMatchObject({ breaker: 'partner:__overflow__' });
    expect(registry.size).toBeLessThanOrEqual(6);
    expect(largest()).toBeLessThanOrEqual(6);
    for (let i = 0; i < 5; i++) expect(registry.peek(`partner:${i}`)!.state).toBe('open');
  });

  it('shares one overflow breaker per group, however many names arrive, and keeps memory bounded', async () => {
    const { registry, largest } = await fullOfOpenBreakers();
    let reached = 0;
    for (let i = 0; i < 1_000; i++) {
      await registry
        .get(`partner:user${i}`, undefined, 'partner')
        .fire(() => {
          reached++;
          return down();
        })
        .catch(() => {});
    }
    expect(reached).toBe(2);
    const other = registry.get('other', undefined, 'search');
    expect(other.name).toBe('search:__overflow__');
    expect(registry.get('bare').name).toBe('__overflow__');
    expect(registry.size).toBe(8);
    expect(largest()).toBe(8);
    expect(registry.list().map((b) => b.name)).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => `partner:${i}`),
      'partner:__overflow__',
      'search:__overflow__',
      '__overflow__',
    ]);
  });

  it('counts forced-open breakers as ones it cannot drop; keys left half-open by an attack make room again', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      maxSize: 2,
      defaults: { clock, failureThreshold: 1, timeout: 100 },
    });
    registry.get('forced').forceOpen();
    await registry
      .get('attacker')
      .fire(down)
      .catch(() => {});
    expect(registry.get('new').name).toBe('__overflow__');
    // The attacker's key is never called again; once its open time is over it no longer holds a place.
    clock.advance(100);
    expect(registry.peek('attacker')!.state).toBe('half-open');
    expect(registry.get('later').name).toBe('later');
    expect(registry.has('forced')).toBe(true);
    expect(registry.has('attacker')).toBe(false);
  });

  it('gives new names breakers of their own again once a held breaker closes, and drops the idle overflow one', async () => {
    const { clock, registry } = await fullOfOpenBreakers();
    const evicted: string[] = [];
    registry.on('evict', ({ breaker }) => evicted.push(breaker.name));
    expect(registry.get('partner:early', undefined, 'partner').name).toBe('partner:__overflow__');
    clock.advance(10_000);
    await registry.get('partner:3').fire(() => 'ok');
    expect(registry.peek('partner:3')!.state).toBe('closed');

    const own = registry.get('partner:late', undefined, 'partner');
    expect(own.name).toBe('partner:late');
    expect(evicted).toEqual(['partner:3', 'partner:__overflow__']);
    expect(registry.size).toBe(5);
    // The held breakers are no longer watched once the registry has room.
    for (const breaker of registry) expect(breaker.listenerCount('state-change')).toBe(0);
  });

  it('keeps an overflow breaker that is open until it can be dropped', async () => {
    const { clock, registry } = await fullOfOpenBreakers();
    await failThrough(registry, 'partner:victim', 2, 'partner');
    const overflow = registry.peek('partner:__overflow__')!;
    expect(overflow.state).toBe('open');
    registry.delete('partner:0');
    expect(registry.get('partner:fresh', undefined, 'partner').name).toBe('partner:fresh');
    expect(registry.peek('partner:__overflow__')).toBe(overflow);
    clock.advance(10_000);
    await overflow.fire(() => 'ok');
    registry.delete('partner:1');
    registry.get('partner:another', undefined, 'partner');
    expect(registry.has('partner:__overflow__')).toBe(false);
    expect(registry.size).toBe(5);
  });

  it('gives room back when a held breaker is reset, disabled or deleted', async () => {
    const { registry } = await fullOfOpenBreakers();
    const nameFor = (name: string) => registry.get(name, undefined, 'partner').name;
    expect(nameFor('a')).toBe('partner:__overflow__');
    registry.peek('partner:0')!.reset();
    expect(nameFor('a')).toBe('a');
    expect(registry.has('partner:0')).toBe(false);

    registry.peek('a')!.forceOpen();
    expect(nameFor('b')).toBe('partner:__overflow__');
    registry.peek('partner:1')!.disable();
    expect(nameFor('b')).toBe('b');
    expect(registry.has('partner:1')).toBe(false);

    registry.peek('b')!.forceOpen();
    expect(nameFor('c')).toBe('partner:__overflow__');
    registry.delete('partner:2');
    expect(nameFor('c')).toBe('c');
    expect(registry.list().map((breaker) => breaker.name)).toEqual(['partner:3', 'partner:4', 'a', 'b', 'c']);
  });

  it('emits overflow with the refused name on every refused lookup, after add for the overflow breaker', async () => {
    const { registry } = await fullOfOpenBreakers();
    const seen: string[] = [];
    registry.on('add', ({ breaker }) => seen.push(`add ${breaker.name}`));
    registry.on('overflow', ({ name, breaker }) => seen.push(`overflow ${name} -> ${breaker.name}`));
    registry.get('partner:x', undefined, 'partner');
    registry.get('partner:y', undefined, 'partner');
    registry.get('partner:x', undefined, 'partner');
    expect(seen).toEqual([
      'add partner:__overflow__',
      'overflow partner:x -> partner:__overflow__',
      'overflow partner:y -> partner:__overflow__',
      'overflow partner:x -> partner:__overflow__',
    ]);
  });

  it('makes the overflow breaker from the overrides for its name', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({
      maxSize: 1,
      defaults: { clock, failureThreshold: 1 },
      overrides: { 'partner:__overflow__': { failureThreshold: 20 } },
    });
    registry.get('partner:a', undefined, 'partner').forceOpen();
    expect(registry.get('partner:b', undefined, 'partner').options.failureThreshold).toBe(20);
  });
});
