import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from './events.js';

interface Events {
  ping: number;
  pong: string;
}

/** An emitter as a library built on this one makes it: it emits, and watches who listens. */
class Pinger extends Emitter<Events> {
  readonly hooks: string[] = [];
  send<K extends keyof Events>(name: K, event: Events[K]) {
    this.emit(name, event);
  }
  watched(name: keyof Events) {
    return this.listens(name);
  }
  protected override onListenerAdded(name: keyof Events) {
    this.hooks.push(`+${name}`);
  }
  protected override onListenerRemoved(name: keyof Events) {
    this.hooks.push(`-${name}`);
  }
}

/** The emitter's own hooks, left as they are. */
class Plain extends Emitter<Events> {
  send<K extends keyof Events>(name: K, event: Events[K]) {
    this.emit(name, event);
  }
}

describe('Emitter', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('delivers each event to its listeners in the order they were added', () => {
    const pinger = new Pinger();
    const seen: string[] = [];
    pinger.on('ping', (n) => seen.push(`first ${n}`));
    pinger.on('ping', (n) => seen.push(`second ${n}`));
    pinger.on('pong', (s) => seen.push(`pong ${s}`));
    pinger.send('ping', 1);
    pinger.send('pong', 'x');
    expect(seen).toEqual(['first 1', 'second 1', 'pong x']);
  });

  it('emitting with nobody listening does nothing', () => {
    expect(() => new Plain().send('ping', 1)).not.toThrow();
  });

  it('counts listeners per event and tells whether anyone listens', () => {
    const pinger = new Pinger();
    expect(pinger.listenerCount('ping')).toBe(0);
    expect(pinger.watched('ping')).toBe(false);
    const off = pinger.on('ping', () => {});
    pinger.on('ping', () => {});
    expect(pinger.listenerCount('ping')).toBe(2);
    expect(pinger.listenerCount('pong')).toBe(0);
    expect(pinger.watched('ping')).toBe(true);
    expect(pinger.watched('pong')).toBe(false);
    off();
    expect(pinger.listenerCount('ping')).toBe(1);
    expect(pinger.watched('ping')).toBe(true);
  });

  it('the function returned by on removes that listener only, once', () => {
    const pinger = new Pinger();
    const seen: string[] = [];
    const a = () => void seen.push('a');
    const b = () => void seen.push('b');
    const offA = pinger.on('ping', a);
    pinger.on('ping', b);
    offA();
    offA();
    pinger.send('ping', 1);
    expect(seen).toEqual(['b']);
    expect(pinger.hooks).toEqual(['+ping', '+ping', '-ping']);
  });

  it('off removes one registration of a listener added twice', () => {
    const pinger = new Pinger();
    let calls = 0;
    const listener = () => void calls++;
    pinger.on('ping', listener);
    pinger.on('ping', listener);
    pinger.off('ping', listener);
    pinger.send('ping', 1);
    expect(calls).toBe(1);
  });

  it('removing the last listener leaves the event unwatched', () => {
    const pinger = new Pinger();
    const listener = () => {};
    pinger.on('ping', listener);
    pinger.off('ping', listener);
    expect(pinger.watched('ping')).toBe(false);
    expect(pinger.listenerCount('ping')).toBe(0);
    expect(pinger.hooks).toEqual(['+ping', '-ping']);
  });

  it('off ignores a listener it does not know, calling no hook', () => {
    const pinger = new Pinger();
    pinger.off('ping', () => {});
    pinger.on('pong', () => {});
    pinger.off('ping', () => {});
    pinger.on('ping', () => {});
    pinger.off('ping', () => {});
    expect(pinger.listenerCount('ping')).toBe(1);
    expect(pinger.hooks).toEqual(['+pong', '+ping']);
  });

  it('an emit in progress reaches the listeners it started with', () => {
    const pinger = new Pinger();
    const seen: string[] = [];
    const late = () => void seen.push('late');
    const second = () => void seen.push('second');
    pinger.on('ping', () => {
      seen.push('first');
      pinger.off('ping', second);
      pinger.on('ping', late);
    });
    pinger.on('ping', second);
    pinger.send('ping', 1);
    expect(seen).toEqual(['first', 'second']);
  });

  it('the default hooks do nothing', () => {
    const plain = new Plain();
    const off = plain.on('ping', () => {});
    off();
    expect(plain.listenerCount('ping')).toBe(0);
  });

  it('a listener that throws becomes a process warning; the others still run', () => {
    const warnings: unknown[][] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => void warnings.push(args));
    const pinger = new Pinger();
    const seen: number[] = [];
    const failure = new Error('listener bug');
    failure.stack = 'Error: listener bug\n    at listener';
    pinger.on('ping', () => {
      throw failure;
    });
    pinger.on('ping', (n) => seen.push(n));
    pinger.on('pong', () => {
      throw 'a plain string';
    });
    pinger.on('pong', () => {
      const bare = new Error('no stack');
      delete bare.stack;
      throw bare;
    });
    expect(() => pinger.send('ping', 7)).not.toThrow();
    pinger.send('pong', 'x');
    expect(seen).toEqual([7]);
    expect(warnings).toEqual([
      [
        'A listener for the "ping" event threw: Error: listener bug\n    at listener',
        { code: 'BREAKER_LISTENER_ERROR' },
      ],
      ['A listener for the "pong" event threw: a plain string', { code: 'BREAKER_LISTENER_ERROR' }],
      ['A listener for the "pong" event threw: no stack', { code: 'BREAKER_LISTENER_ERROR' }],
    ]);
  });
});
