import { CallContext, type FireContext } from '../context.js';

/** Options of one `execute`. */
export interface ExecuteOptions {
  /** The caller's signal: every layer honours its abort, and the guarded function receives it. */
  signal?: AbortSignal | undefined;
}

/** The function a policy guards; it receives the call's signal and may be synchronous. */
export type Guarded<T> = (context: FireContext) => T | PromiseLike<T>;

/**
 * Something that runs a function under a rule (retry, bulkhead, fallback, a composition).
 * `R` is what the policy may answer in the function's place: a fallback's value, `never` otherwise.
 */
export interface Policy<R = never> {
  /** Runs `fn({ signal })` under the policy and returns its result. */
  execute<T>(fn: Guarded<T>, options?: ExecuteOptions): Promise<Awaited<T> | R>;
}

/** An object that guards calls through `fire`, such as a `CircuitBreaker`. */
export interface Fireable {
  fire<T>(fn: Guarded<T>, options?: ExecuteOptions): Promise<Awaited<T>>;
}

/** What `compose` accepts: a policy, or a circuit breaker (anything with `fire`). */
export type Guard = Policy<unknown> | Fireable;

/** Whether `value` can take part in a composition. */
export function isGuard(value: unknown): value is Guard {
  return (
    typeof value === 'object' &&
    value !== null &&
    (typeof (value as Policy).execute === 'function' || typeof (value as Fireable).fire === 'function')
  );
}

/** A guard seen as a policy: a breaker's `fire` becomes `execute`. */
export function toPolicy(guard: Guard): Policy<unknown> {
  if (typeof (guard as Policy).execute === 'function') return guard as Policy<unknown>;
  const fireable = guard as Fireable;
  return { execute: (fn, options) => fireable.fire(fn, options) };
}

/** The context handed to the guarded function: the caller's signal, or one made only if it is read. */
export function contextFor(signal: AbortSignal | undefined): FireContext {
  return signal === undefined ? new CallContext() : { signal };
}

/** Calls `fn` and turns a synchronous throw into a rejection. */
export function invoke<T>(fn: Guarded<T>, context: FireContext): Promise<Awaited<T>> {
  return new Promise<Awaited<T>>((resolve) => resolve(fn(context) as Awaited<T>));
}

/** Whether the caller has aborted; a function, so that a check after an `await` reads the signal afresh. */
export function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
