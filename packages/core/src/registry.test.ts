import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
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

  it('never evicts an open or half-open breaker', async () => {
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
    registry.get('closed-1');
    registry.get('closed-2');
    const names = registry.list().map((b) => b.name);
    expect(names).toContain('open');
    expect(names).toContain('half-open');
    expect(registry.peek('open')!.state).toBe('open');
    expect(registry.peek('half-open')!.state).toBe('half-open');
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
