import {
  BreakerRegistry,
  CircuitBreaker,
  InvalidOptionError,
  type BreakerOptions,
  type Clock,
} from '@breaker/core';
import type { DriverRules } from './rules.js';

/** Options of a pool guard: a breaker's options, or the breaker itself, and how to cancel. */
export interface GuardOptions extends Omit<BreakerOptions, 'isFailure'> {
  /** The breaker's name, in its errors, events and metrics. Required unless `breaker` is given. */
  name?: string;
  /** Whether an error counts against the breaker. Default: the driver's rules (`pg.isFailure`…). */
  isFailure?: (error: unknown) => boolean;
  /** Take the breaker from this registry (made on first use, with these options), so collectors see it. */
  registry?: BreakerRegistry;
  /** Use this breaker as it is; no other breaker option may be given with it. */
  breaker?: CircuitBreaker;
  /**
   * Milliseconds a query the breaker gave up on (its `callTimeout`, or the caller's abort) may take to end
   * after it was cancelled; past that its connection is destroyed rather than given back to the pool.
   * Default `5000`.
   */
  cancelGrace?: number;
}

/** Per call: the caller's own signal (a client that hung up, say). */
export interface QueryOptions {
  signal?: AbortSignal | undefined;
}

export const DEFAULT_CANCEL_GRACE = 5_000;
const GUARD_KEYS = new Set(['registry', 'breaker', 'cancelGrace']);

export interface ResolvedGuard {
  breaker: CircuitBreaker;
  cancelGrace: number;
  clock: Clock;
}

/** The breaker and settings of a guard, checked as a breaker's options are. */
export function resolveGuard(driver: string, rules: DriverRules, options: GuardOptions): ResolvedGuard {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'options',
      `Invalid ${driver} guard options: expected an object; received ${String(options)}.`,
    );
  }
  const { registry, breaker, cancelGrace = DEFAULT_CANCEL_GRACE, ...breakerOptions } = options;
  if (typeof cancelGrace !== 'number' || !Number.isFinite(cancelGrace) || cancelGrace < 0) {
    throw new InvalidOptionError(
      'cancelGrace',
      `Invalid ${driver} guard option "cancelGrace": expected a number of milliseconds of at least 0; received ${String(cancelGrace)}.`,
    );
  }
  if (breaker !== undefined) {
    if (!(breaker instanceof CircuitBreaker)) {
      throw new InvalidOptionError(
        'breaker',
        `Invalid ${driver} guard option "breaker": expected a CircuitBreaker.`,
      );
    }
    const extra = Object.keys(options).filter((key) => !GUARD_KEYS.has(key));
    if (extra.length > 0 || registry !== undefined) {
      const named = registry !== undefined ? 'registry' : (extra[0] ?? '');
      throw new InvalidOptionError(
        named,
        `Invalid ${driver} guard option "${named}": a guard given a breaker takes no breaker options; set them on the breaker.`,
      );
    }
    return { breaker, cancelGrace, clock: breaker.options.clock };
  }
  const { name, ...rest } = breakerOptions;
  if (typeof name !== 'string' || name === '') {
    throw new InvalidOptionError(
      'name',
      `Invalid ${driver} guard option "name": expected a non-empty string; received ${String(name)}.`,
    );
  }
  const withRules = { ...rest, isFailure: rest.isFailure ?? rules.isFailure };
  if (registry !== undefined && !(registry instanceof BreakerRegistry)) {
    throw new InvalidOptionError(
      'registry',
      `Invalid ${driver} guard option "registry": expected a BreakerRegistry.`,
    );
  }
  const made =
    registry !== undefined ? registry.get(name, withRules) : new CircuitBreaker({ ...withRules, name });
  return { breaker: made, cancelGrace, clock: made.options.clock };
}

/**
 * Runs `work` once `signal` aborts (at once if it has), and returns a function that removes the listener. The
 * listener never outlives the call. A call nothing can abort has no signal: none is made for it.
 */
function watch(signal: AbortSignal | undefined, work: () => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    work();
    return () => {};
  }
  signal.addEventListener('abort', work, { once: true });
  return () => signal.removeEventListener('abort', work);
}

/** One query on a connection the guard holds, as a driver runs, stops, gives back or destroys it. */
export interface HeldQuery<R> {
  /** The connection, for its 'error' event while held. */
  readonly connection: {
    on?(event: 'error', listener: (error: Error) => void): unknown;
    removeListener?(event: 'error', listener: (error: Error) => void): unknown;
  };
  start(): Promise<R> | unknown;
  /** Asks the server to stop the query. */
  cancel(): void;
  /**
   * Gives the connection back, or destroys it. `lost`: it reported an error while held. `cancelled`: a cancel
   * was sent, which may still reach the server, so the connection goes back only if the query ended by it.
   */
  end(error: unknown, lost: boolean, cancelled: boolean): void;
  /** Destroys the connection: the query did not end within the grace period. */
  destroy(): void;
}

/**
 * Runs a query on a held connection. When `signal` aborts, the query is cancelled and given `cancelGrace` ms
 * to end before its connection is destroyed. The connection's 'error' event is heard while it is held (with no
 * listener it would crash the process).
 */
export function runHeld<R>(
  held: HeldQuery<R>,
  signal: AbortSignal | undefined,
  guard: ResolvedGuard,
): Promise<R> {
  const { clock, cancelGrace } = guard;
  let settled = false;
  let destroyed = false;
  let lost = false;
  let cancelled = false;
  let graceTimer: ReturnType<Clock['setTimeout']> | undefined;
  const onLost = () => (lost = true);
  held.connection.on?.('error', onLost);
  const stopListening = watch(signal, () => {
    // The grace period first: whatever the cancel does, the connection cannot outlive it.
    graceTimer = clock.setTimeout(
      () => {
        if (settled) return;
        destroyed = true;
        held.destroy();
      },
      cancelGrace,
      { unref: true },
    );
    cancelled = true;
    try {
      held.cancel();
    } catch {
      // A cancel that cannot be sent leaves the query to the grace period.
    }
  });
  const end = (error?: unknown) => {
    settled = true;
    stopListening();
    held.connection.removeListener?.('error', onLost);
    if (graceTimer !== undefined) clock.clearTimeout(graceTimer);
    if (!destroyed) held.end(error, lost, cancelled);
  };
  let running: Promise<R>;
  try {
    const started = held.start();
    if (typeof (started as PromiseLike<R> | undefined)?.then !== 'function') {
      throw new TypeError(
        'The driver ran the query without a promise (a callback was given?); use query(text, values).',
      );
    }
    running = Promise.resolve(started as PromiseLike<R>);
  } catch (error) {
    end(error);
    return Promise.reject(error);
  }
  // Plain reactions rather than an async function: a query pays no more promise steps than the pool's own.
  return running.then(
    (result) => {
      end();
      return result;
    },
    (error: unknown) => {
      end(error);
      throw error;
    },
  );
}

/**
 * Runs `work` with the call's signal, or with none when nothing can abort the call (no `callTimeout`, no
 * caller signal): reading a call's signal makes an AbortController, a cost a plain query need not pay.
 */
export function fireGuarded<R>(
  breaker: CircuitBreaker,
  callerSignal: AbortSignal | undefined,
  work: (signal: AbortSignal | undefined) => Promise<R>,
): Promise<R> {
  if (callerSignal === undefined && breaker.options.callTimeout === undefined) {
    return breaker.fire(() => work(undefined));
  }
  return breaker.fire(({ signal }) => work(signal), { signal: callerSignal });
}
