import { z } from 'zod';
import { BreakerOpenError, CallTimeoutError } from '../errors.js';
import { Emitter } from '../events.js';
import { BulkheadRejectedError } from './BulkheadRejectedError.js';
import { aborted, contextFor, type ExecuteOptions, type Guarded, type Policy } from './Policy.js';
import { fn, parseOptions } from '../validation.js';

/** Why a fallback answered: the breaker was open, the call timed out, the bulkhead was full, or it failed. */
export type PolicyFallbackReason = 'open' | 'timeout' | 'bulkhead-full' | 'error';

/** Makes the answer given in the call's place. */
export type FallbackHandler<R> = (reason: PolicyFallbackReason, error: unknown) => R | PromiseLike<R>;

/** Options of {@link fallback}. */
export interface FallbackOptions {
  /** Whether to answer in place of this error (default: every error but the caller's abort). */
  when?: (error: unknown) => boolean;
}

/** Payload of `fallback`. */
export interface FallbackEvent {
  reason: PolicyFallbackReason;
  error: unknown;
}

/** Every event a fallback policy emits, by name. */
export interface FallbackEvents {
  fallback: FallbackEvent;
}

/** A JSON-serialisable snapshot of a fallback policy's counts. */
export interface FallbackStats {
  calls: number;
  /** Calls answered by the fallback, by reason. */
  fallbacks: Record<PolicyFallbackReason, number>;
}

const schema = z.strictObject({
  when: fn<(error: unknown) => boolean>('a function (error) => boolean').optional(),
});

/** The reason a fallback gives for `error`. */
export function fallbackReason(error: unknown): PolicyFallbackReason {
  if (error instanceof BreakerOpenError) return 'open';
  if (error instanceof CallTimeoutError) return 'timeout';
  if (error instanceof BulkheadRejectedError) return 'bulkhead-full';
  return 'error';
}

/** Answers in place of a call that fails or is turned away; a caller's abort is never replaced. */
export class FallbackPolicy<R> extends Emitter<FallbackEvents> implements Policy<R> {
  readonly #handler: FallbackHandler<R>;
  readonly #when: ((error: unknown) => boolean) | undefined;
  #calls = 0;
  readonly #fallbacks: Record<PolicyFallbackReason, number> = {
    open: 0,
    timeout: 0,
    'bulkhead-full': 0,
    error: 0,
  };

  constructor(handler: FallbackHandler<R>, options?: FallbackOptions) {
    super();
    this.#handler = handler;
    this.#when = parseOptions(schema, options, 'fallback()').when;
  }

  /** Runs `fn({ signal })`; when it fails, answers with the fallback instead. */
  async execute<T>(fn: Guarded<T>, options?: ExecuteOptions): Promise<Awaited<T> | R> {
    const signal = options?.signal;
    if (signal?.aborted === true) throw signal.reason;
    this.#calls++;
    try {
      return await fn(contextFor(signal));
    } catch (error) {
      if (aborted(signal) || !this.#handles(error)) throw error;
      const reason = fallbackReason(error);
      this.#fallbacks[reason]++;
      this.emit('fallback', { reason, error });
      return (await this.#handler(reason, error)) as R;
    }
  }

  /** A JSON-serialisable snapshot of the policy's counts. */
  stats(): FallbackStats {
    return { calls: this.#calls, fallbacks: { ...this.#fallbacks } };
  }

  #handles(error: unknown): boolean {
    if (this.#when === undefined) return true;
    try {
      return this.#when(error) === true;
    } catch {
      return false;
    }
  }
}

/**
 * A fallback: `valueOrHandler` is the answer, or a function `(reason, error) => answer` (it may be async).
 * To answer with a function itself, return it from a handler.
 */
export function fallback<R>(handler: FallbackHandler<R>, options?: FallbackOptions): FallbackPolicy<R>;
export function fallback<R>(value: R, options?: FallbackOptions): FallbackPolicy<R>;
export function fallback<R>(
  valueOrHandler: R | FallbackHandler<R>,
  options?: FallbackOptions,
): FallbackPolicy<R> {
  const handler =
    typeof valueOrHandler === 'function' ? (valueOrHandler as FallbackHandler<R>) : () => valueOrHandler as R;
  return new FallbackPolicy(handler, options);
}
