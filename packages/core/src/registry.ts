import { CircuitBreaker } from './CircuitBreaker.js';
import { Emitter, type StateChangeEvent } from './events.js';
import { InvalidOptionError } from './errors.js';
import type { BulkheadRejectedError } from './policies/BulkheadRejectedError.js';
import { resolveOptions, withName, type BreakerOptions, type ResolvedOptions } from './options.js';
import type { BreakerState } from './state.js';
import { describe } from './validation.js';

/** Options of {@link BreakerRegistry}. */
export interface RegistryOptions {
  /** Options every breaker starts from. */
  defaults?: Omit<BreakerOptions, 'name' | 'initialState'>;
  /** Options for particular names, laid over `defaults`. */
  overrides?: Record<string, Omit<BreakerOptions, 'name'>>;
  /**
   * Most breakers kept; the least recently used closed one goes first, then the least recently used
   * half-open one (default 1000). When every one held is open or forced-open, new names share an
   * overflow breaker instead.
   */
  maxSize?: number;
}

/** Events of a {@link BreakerRegistry}. */
export interface RegistryEvents {
  /** A breaker was made. */
  add: { breaker: CircuitBreaker };
  /** A breaker left the registry: evicted as least recently used, deleted, or disposed with the registry. */
  evict: { breaker: CircuitBreaker };
  /**
   * `name` was refused a breaker of its own, because the registry is full of breakers it cannot drop,
   * and got the shared overflow `breaker` instead.
   */
  overflow: { name: string; breaker: CircuitBreaker };
  /** An HTTP adapter's bulkhead for breaker `name` turned a request away (full, or out of time in its queue). */
  'bulkhead-reject': { name: string; error: BulkheadRejectedError };
  /**
   * An HTTP adapter answered a request of breaker `name` with its `fallback`; `reason` is the fallback's
   * (`open`, `half-open-busy`, `bulkhead-full`, `timeout` or `error`).
   */
  fallback: { name: string; reason: string };
}

/** The events an adapter reports through {@link BreakerRegistry.note}. */
export type AdapterEvent = 'bulkhead-reject' | 'fallback';

export const DEFAULT_REGISTRY_MAX_SIZE = 1_000;
const REGISTRY = Symbol.for('@breaker/core/registry');
/** The last part of an overflow breaker's name: `group:__overflow__`, or `__overflow__` alone. */
const OVERFLOW_KEY = '__overflow__';

/** The name of the breaker that names of `group` share while the registry is full. */
function overflowName(group: string | undefined): string {
  return group === undefined ? OVERFLOW_KEY : `${group}:${OVERFLOW_KEY}`;
}

/**
 * Named breakers, created on first use from shared defaults. Pass one registry around to share
 * breakers between routes, metrics and the dashboard; there is no global one.
 *
 * At most `maxSize` breakers are kept, the least recently used closed (or disabled) one going first, and
 * a half-open one when none is closed (its open time is over: it would let a trial through anyway). An
 * open or forced-open breaker is never dropped, since that would let traffic through to a failing
 * upstream; when every breaker held is one of those, a new name shares its group's overflow breaker
 * (one per group, on top of `maxSize`) until a held breaker turns half-open or closed and makes room.
 */
export class BreakerRegistry extends Emitter<RegistryEvents> {
  static {
    Object.defineProperty(this.prototype, REGISTRY, { value: true });
  }

  /** True for a registry from any copy of this package, so adapters that load their own copy still accept it. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' && value !== null && (value as { [REGISTRY]?: unknown })[REGISTRY] === true
    );
  }

  readonly maxSize: number;
  readonly #defaults: RegistryOptions['defaults'];
  readonly #overrides: NonNullable<RegistryOptions['overrides']>;
  /** Every breaker held, overflow ones included, least recently used first. */
  readonly #breakers = new Map<string, CircuitBreaker>();
  /** The overflow breakers among `#breakers`, by name; they do not count against `maxSize`. */
  readonly #overflow = new Map<string, CircuitBreaker>();
  /** The most recently used name of a breaker of its own, last in `#breakers` but for overflow breakers. */
  #newest: string | undefined;
  /**
   * Set while every breaker counted against `maxSize` is one the registry cannot drop. Meanwhile each
   * of them is watched, so that new names are sent to the overflow breaker without a scan, and the
   * first one that can be dropped again ends the watch.
   */
  #full = false;
  readonly #onHeldChange = ({ to }: StateChangeEvent): void => {
    // Stryker disable next-line ConditionalExpression: ending the watch early only makes the next new name rescan, which finds the same
    if (isDroppable(to)) this.#unwatch();
  };
  readonly #resolved = new WeakMap<object, ResolvedOptions>();
  /** Stands for "no call options" as a key of `#resolved`. */
  readonly #shared = {};

  constructor(options: RegistryOptions = {}) {
    super();
    const { defaults, overrides = {}, maxSize = DEFAULT_REGISTRY_MAX_SIZE, ...rest } = options;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) {
      throw new InvalidOptionError(
        unknown,
        `Unknown BreakerRegistry option "${unknown}". Known options: defaults, overrides, maxSize.`,
      );
    }
    if (!Number.isInteger(maxSize) || maxSize < 1) {
      throw new InvalidOptionError(
        'maxSize',
        `Invalid BreakerRegistry option "maxSize": expected a whole number of at least 1; received ${describe(maxSize)}.`,
      );
    }
    // Check the shared options once, here, rather than on the first request that needs them.
    resolveOptions(defaults, 'BreakerRegistry defaults');
    for (const [name, options] of Object.entries(overrides)) {
      resolveOptions({ ...defaults, ...options, name }, `BreakerRegistry overrides["${name}"]`);
    }
    this.maxSize = maxSize;
    this.#defaults = defaults;
    this.#overrides = overrides;
  }

  /**
   * Reports what an adapter did for a request of one of this registry's breakers, to the listeners of
   * that event (metrics, traces); the HTTP adapters call it, applications have no need to.
   */
  note<K extends AdapterEvent>(event: K, payload: RegistryEvents[K]): void {
    this.emit(event, payload);
  }

  /**
   * The breaker named `name`, made on first use from the defaults, the name's overrides and `options`;
   * once it exists, `options` are not looked at again. When the registry is full of breakers it cannot
   * drop, returns the overflow breaker of `group` (the prefix of keyed names, such as a middleware's
   * `name`), named `group:__overflow__`, and emits `overflow`.
   */
  get(name: string, options?: Omit<BreakerOptions, 'name'>, group?: string): CircuitBreaker {
    const breakers = this.#breakers;
    const existing = breakers.get(name);
    if (existing !== undefined) {
      // Re-inserting keeps the map in least-recently-used order; the newest needs no move.
      if (name !== this.#newest) {
        breakers.delete(name);
        breakers.set(name, existing);
        this.#newest = name;
      }
      return existing;
    }
    // Make room first, so that listeners of `add` see the registry within its bound.
    if (breakers.size - this.#overflow.size >= this.maxSize && (this.#full || !this.#evictOne())) {
      return this.#overflowFor(name, options, group);
    }
    // Stryker disable next-line ConditionalExpression,EqualityOperator: with no overflow breaker there is nothing to drop
    if (this.#overflow.size > 0) this.#dropIdleOverflow();
    const breaker = new CircuitBreaker(this.#optionsFor(name, options));
    breakers.set(name, breaker);
    this.#newest = name;
    this.emit('add', { breaker });
    return breaker;
  }

  /** The breaker named `name`, if the registry holds one; does not count as a use. */
  peek(name: string): CircuitBreaker | undefined {
    return this.#breakers.get(name);
  }

  /** Whether a breaker named `name` is held. */
  has(name: string): boolean {
    return this.#breakers.has(name);
  }

  /** Removes and disposes the breaker named `name`. */
  delete(name: string): boolean {
    const breaker = this.#breakers.get(name);
    if (breaker === undefined) return false;
    this.#drop(name, breaker);
    return true;
  }

  /** How many breakers are held: at most `maxSize`, plus the overflow breakers in use. */
  get size(): number {
    return this.#breakers.size;
  }

  /** Every breaker, least recently used first. */
  list(): CircuitBreaker[] {
    return [...this.#breakers.values()];
  }

  [Symbol.iterator](): IterableIterator<CircuitBreaker> {
    return this.#breakers.values();
  }

  /** Disposes and forgets every breaker. */
  dispose(): void {
    const breakers = [...this.#breakers.values()];
    this.#unwatch();
    this.#breakers.clear();
    this.#overflow.clear();
    for (const breaker of breakers) {
      breaker.dispose();
      this.emit('evict', { breaker });
    }
  }

  /**
   * Options for a new breaker. Breakers without overrides of their own share one resolved
   * configuration per `options` object (such as a middleware's), differing only in name.
   */
  #optionsFor(name: string, options: Omit<BreakerOptions, 'name'> | undefined): BreakerOptions {
    const merged = { ...this.#defaults, ...this.#overrides[name], ...options, name };
    if (this.#overrides[name] !== undefined) return merged;
    const key = options ?? this.#shared;
    let resolved = this.#resolved.get(key);
    if (resolved === undefined) {
      resolved = resolveOptions(merged);
      this.#resolved.set(key, resolved);
    }
    return withName(resolved, name);
  }

  /**
   * Drops the least recently used closed breaker, or else the least recently used half-open one. When
   * every breaker held is open or forced-open, returns false and watches them until one can be dropped.
   */
  #evictOne(): boolean {
    for (const halfOpenToo of [false, true]) {
      for (const [name, breaker] of this.#breakers) {
        const state = breaker.state;
        if (this.#overflow.has(name) || !isDroppable(state)) continue;
        if (state === 'half-open' && !halfOpenToo) continue;
        this.#drop(name, breaker);
        return true;
      }
    }
    this.#full = true;
    for (const [name, breaker] of this.#breakers) {
      // Stryker disable next-line ConditionalExpression: watching an overflow breaker too only ends the watch early; the next new name rescans
      if (!this.#overflow.has(name)) breaker.on('state-change', this.#onHeldChange);
    }
    return false;
  }

  #unwatch(): void {
    // Stryker disable next-line ConditionalExpression: when not full no breaker is watched, and the rest does nothing
    if (!this.#full) return;
    this.#full = false;
    for (const breaker of this.#breakers.values()) breaker.off('state-change', this.#onHeldChange);
  }

  /** The shared breaker for names the full registry refuses, made on first need. */
  #overflowFor(
    name: string,
    options: Omit<BreakerOptions, 'name'> | undefined,
    group: string | undefined,
  ): CircuitBreaker {
    const shared = overflowName(group);
    let breaker = this.#breakers.get(shared);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(this.#optionsFor(shared, options));
      this.#breakers.set(shared, breaker);
      this.#overflow.set(shared, breaker);
      this.emit('add', { breaker });
    }
    this.emit('overflow', { name, breaker });
    return breaker;
  }

  /** Once names get breakers of their own again, overflow breakers that protect nothing go. */
  #dropIdleOverflow(): void {
    for (const [name, breaker] of this.#overflow) {
      if (isDroppable(breaker.state)) this.#drop(name, breaker);
    }
  }

  #drop(name: string, breaker: CircuitBreaker): void {
    this.#unwatch();
    this.#breakers.delete(name);
    this.#overflow.delete(name);
    if (this.#newest === name) this.#newest = undefined;
    breaker.dispose();
    this.emit('evict', { breaker });
  }
}

/**
 * Whether dropping a breaker in `state` lets no more traffic through to its upstream than it would:
 * not while it is open or forced open. A half-open breaker is ready for trial calls, and an attacker's
 * keys that go half-open and are never called again must not keep the registry full.
 */
function isDroppable(state: BreakerState): boolean {
  return state !== 'open' && state !== 'forced-open';
}
