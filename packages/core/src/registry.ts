import { CircuitBreaker } from './CircuitBreaker.js';
import { Emitter } from './events.js';
import { InvalidOptionError } from './errors.js';
import { resolveOptions, withName, type BreakerOptions, type ResolvedOptions } from './options.js';
import { describe } from './validation.js';

/** Options of {@link BreakerRegistry}. */
export interface RegistryOptions {
  /** Options every breaker starts from. */
  defaults?: Omit<BreakerOptions, 'name' | 'initialState'>;
  /** Options for particular names, laid over `defaults`. */
  overrides?: Record<string, Omit<BreakerOptions, 'name'>>;
  /** Most breakers kept; the least recently used closed one goes first (default 1000). */
  maxSize?: number;
}

/** Events of a {@link BreakerRegistry}. */
export interface RegistryEvents {
  /** A breaker was made. */
  add: { breaker: CircuitBreaker };
  /** A breaker left the registry: evicted as least recently used, deleted, or disposed with the registry. */
  evict: { breaker: CircuitBreaker };
}

export const DEFAULT_REGISTRY_MAX_SIZE = 1_000;
const REGISTRY = Symbol.for('@breaker/core/registry');

/**
 * Named breakers, created on first use from shared defaults. Pass one registry around to share
 * breakers between routes, metrics and the dashboard; there is no global one.
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
  readonly #breakers = new Map<string, CircuitBreaker>();
  /** The most recently used name, last in `#breakers`. */
  #newest: string | undefined;
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
   * The breaker named `name`, made on first use from the defaults, the name's overrides and `options`;
   * once it exists, `options` are not looked at again.
   */
  get(name: string, options?: Omit<BreakerOptions, 'name'>): CircuitBreaker {
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
    const breaker = new CircuitBreaker(this.#optionsFor(name, options));
    breakers.set(name, breaker);
    this.#newest = name;
    // Evict first, so that listeners of `add` see the registry within its bound.
    if (breakers.size > this.maxSize) this.#evict();
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
    this.#breakers.delete(name);
    breaker.dispose();
    this.emit('evict', { breaker });
    return true;
  }

  /** How many breakers are held. */
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
    this.#breakers.clear();
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

  #evict(): void {
    for (const [name, breaker] of this.#breakers) {
      if (this.#breakers.size <= this.maxSize) return;
      // An open breaker is protecting an upstream; forgetting it would let traffic through.
      const state = breaker.state;
      if (state === 'open' || state === 'half-open' || state === 'forced-open') continue;
      this.#breakers.delete(name);
      breaker.dispose();
      this.emit('evict', { breaker });
    }
  }
}
