import type { Clock } from '../clock.js';
import { Emitter } from '../events.js';
import { aborted, contextFor, type ExecuteOptions, type Guarded, type Policy } from './Policy.js';
import { RetryBudget, type RetryBudgetStats } from './RetryBudget.js';
import { resolveRetryOptions, type ResolvedRetryOptions, type RetryOptions } from './retryOptions.js';

/** Why a retryable failure was not retried. */
export type GiveUpReason = 'attempts' | 'budget' | 'retry-after';

/** Payload of `retry`: try number `attempt` failed with `error`; the next starts after `delayMs`. */
export interface RetryEvent {
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** Payload of `give-up`: the call fails with `error` after `attempts` tries. */
export interface GiveUpEvent {
  attempts: number;
  reason: GiveUpReason;
  error: unknown;
}

/** Every event a retry policy emits, by name. */
export interface RetryEvents {
  retry: RetryEvent;
  'give-up': GiveUpEvent;
}

/** A JSON-serialisable snapshot of a retry policy's counts. */
export interface RetryStats {
  calls: number;
  successes: number;
  /** Calls that failed, given up or not retryable; aborts excluded. */
  failures: number;
  /** Calls the caller aborted. */
  aborted: number;
  retries: number;
  giveUps: Record<GiveUpReason, number>;
  budget: RetryBudgetStats | null;
}

/** Retries failed calls with capped exponential backoff and full jitter, within a retry budget. */
export class RetryPolicy extends Emitter<RetryEvents> implements Policy {
  /** Options after defaults. */
  readonly options: ResolvedRetryOptions;
  readonly #budget: RetryBudget | undefined;
  readonly #clock: Clock;
  #calls = 0;
  #successes = 0;
  #failures = 0;
  #aborted = 0;
  #retries = 0;
  readonly #giveUps: Record<GiveUpReason, number> = { attempts: 0, budget: 0, 'retry-after': 0 };

  constructor(options?: RetryOptions) {
    super();
    const o = resolveRetryOptions(options);
    this.options = o;
    this.#clock = o.clock;
    if (o.budget !== undefined) {
      this.#budget = new RetryBudget(o.budget.ratio, o.budget.minPerSecond, o.budget.window);
    }
  }

  /** Runs `fn({ signal })`, trying again after a retryable failure; rejects with the last error. */
  async execute<T>(fn: Guarded<T>, options?: ExecuteOptions): Promise<Awaited<T>> {
    const signal = options?.signal;
    if (signal?.aborted === true) throw signal.reason;
    const context = contextFor(signal);
    this.#calls++;
    this.#budget?.deposit(this.#clock.now());
    for (let attempt = 1; ; attempt++) {
      let error: unknown;
      try {
        const value = await fn(context);
        this.#successes++;
        return value;
      } catch (caught) {
        error = caught;
      }
      if (aborted(signal)) {
        this.#aborted++;
        throw error;
      }
      const delayMs = this.#delayBeforeRetry(attempt, error);
      if (delayMs === undefined) {
        this.#failures++;
        throw error;
      }
      this.#retries++;
      this.emit('retry', { attempt, delayMs, error });
      try {
        await sleep(this.#clock, delayMs, signal);
      } catch (reason) {
        this.#aborted++;
        throw reason;
      }
    }
  }

  /** A JSON-serialisable snapshot of the policy's counts. */
  stats(): RetryStats {
    return {
      calls: this.#calls,
      successes: this.#successes,
      failures: this.#failures,
      aborted: this.#aborted,
      retries: this.#retries,
      giveUps: { ...this.#giveUps },
      budget: this.#budget?.stats(this.#clock.now()) ?? null,
    };
  }

  /** The wait before the next try, or `undefined` when the call fails now. */
  #delayBeforeRetry(attempt: number, error: unknown): number | undefined {
    const o = this.options;
    let retryable: boolean;
    try {
      retryable = o.retryOn(error) === true;
      // Stryker disable next-line BlockStatement: left unset, retryable is undefined, which fails the call as false does
    } catch {
      retryable = false;
    }
    if (!retryable) return undefined;
    if (attempt >= o.attempts) return this.#giveUp('attempts', attempt, error);
    let delay = backoffDelay(o, attempt);
    const retryAfter = retryAfterOf(error);
    if (retryAfter !== undefined) {
      if (retryAfter > o.maxDelay) return this.#giveUp('retry-after', attempt, error);
      delay = Math.max(delay, Math.ceil(retryAfter));
    }
    if (this.#budget?.tryWithdraw(this.#clock.now()) === false) return this.#giveUp('budget', attempt, error);
    return delay;
  }

  #giveUp(reason: GiveUpReason, attempts: number, error: unknown): undefined {
    this.#giveUps[reason]++;
    this.emit('give-up', { attempts, reason, error });
    return undefined;
  }
}

/**
 * The backoff before retry `attempt` (1 for the first), with full jitter: a random wait from 0 up to
 * `baseDelay × 2^(attempt-1)`, capped by `maxDelay`.
 */
export function backoffDelay(
  options: Pick<ResolvedRetryOptions, 'baseDelay' | 'maxDelay' | 'random'>,
  attempt: number,
): number {
  const cap = Math.min(options.maxDelay, options.baseDelay * 2 ** Math.min(attempt - 1, 1_000));
  return Math.floor(options.random() * cap);
}

/** A retry policy: `attempts` tries in all, backoff with full jitter, a retry budget. */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}

/** The wait an upstream asked for (its `Retry-After`), carried as `retryAfterMs`. */
function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const ms = (error as { retryAfterMs?: unknown }).retryAfterMs;
  // Stryker disable next-line EqualityOperator: a wait of 0 neither exceeds maxDelay (at least 0) nor lengthens the backoff
  return typeof ms === 'number' && ms > 0 && Number.isFinite(ms) ? ms : undefined;
}

/** Waits `ms` on `clock`; an abort rejects at once with the signal's reason and clears the timer. */
function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(signal.reason as unknown);
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
