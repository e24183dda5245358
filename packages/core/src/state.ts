import { BreakerError, rejection, type BreakerOpenError } from './errors.js';
import type { TransitionReason } from './events.js';
import type { ResolvedOptions } from './options.js';
import type { SlidingWindow } from './windows/index.js';

/** Where a breaker stands. `forced-open` and `disabled` hold until `reset()`. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled';

/** What a state may ask of the breaker that holds it. */
export interface StateHost {
  readonly options: ResolvedOptions;
  open(reason: TransitionReason, retryAfterMs?: number): void;
  halfOpen(reason: TransitionReason): void;
  close(reason: TransitionReason): void;
  /** Ends a recovery ramp: the breaker is plainly closed again, without a state change. */
  endRecovery(): void;
  /** The current state, after any transition a state just made. */
  readonly current: State;
  tryAcquireProbe(): boolean;
  releaseProbe(): void;
}

/**
 * One state of the machine. `acquire` admits a call (returns `undefined`) or returns the
 * rejection; the outcome methods are only called for calls admitted in this same state.
 */
export interface State {
  readonly kind: BreakerState;
  acquire(now: number): BreakerOpenError | undefined;
  onSuccess(now: number, slow: boolean, start: number): void;
  onFailure(now: number, slow: boolean, start: number, error: unknown): void;
  onIgnore(start: number): void;
  /** Milliseconds until a call may be admitted. */
  retryAfter(now: number): number;
}

/**
 * The duration an error asks the breaker to stay open for, if it carries a `retryAfterMs`.
 * Breaker's own errors never do: an inner breaker's rejection is an ordinary failure here.
 */
export function requestedOpenTime(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || error instanceof BreakerError) return undefined;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  // Stryker disable next-line ConditionalExpression: Number.isFinite refuses every value that is not a number
  return typeof value === 'number' && value > 0 && Number.isFinite(value) ? value : undefined;
}

/** Admits every call; opens on consecutive failures, an error's own open time, or a rate rule. */
export class ClosedState implements State {
  readonly kind = 'closed';
  consecutiveFailures = 0;

  constructor(
    private readonly host: StateHost,
    readonly window: SlidingWindow | undefined,
  ) {}

  // Stryker disable next-line BlockStatement: an empty body returns undefined too
  acquire(): undefined {
    return undefined;
  }

  onSuccess(now: number, slow: boolean): void {
    this.consecutiveFailures = 0;
    const window = this.window;
    if (window !== undefined) {
      window.record(false, slow, now);
      // A success can still leave the rate at the threshold once minimumCalls is reached.
      this.#checkRates();
    }
  }

  onFailure(now: number, slow: boolean, _start: number, error: unknown): void {
    const requested = requestedOpenTime(error);
    if (requested !== undefined) return this.host.open('retry-after', requested);
    if (++this.consecutiveFailures >= this.host.options.failureThreshold) {
      return this.host.open('consecutive-failures');
    }
    const window = this.window;
    if (window !== undefined) {
      window.record(true, slow, now);
      this.#checkRates();
    }
  }

  onIgnore(): void {}

  retryAfter(): number {
    return 0;
  }

  #checkRates(): void {
    const window = this.window!;
    const { minimumCalls, failureRateThreshold, slowCallRateThreshold } = this.host.options;
    const calls = window.calls;
    if (calls < minimumCalls) return;
    // Stryker disable next-line ConditionalExpression: without the rule the comparison is with NaN, which is false
    if (failureRateThreshold !== undefined && window.failures * 100 >= failureRateThreshold * calls) {
      this.host.open('failure-rate');
    } else if (slowCallRateThreshold !== undefined && window.slow * 100 >= slowCallRateThreshold * calls) {
      this.host.open('slow-call-rate');
    }
  }
}

/** Rejects every call until `openUntil`, then hands over to half-open, timer or not. */
export class OpenState implements State {
  readonly kind = 'open';

  constructor(
    private readonly host: StateHost,
    readonly openedAt: number,
    readonly openUntil: number,
  ) {}

  acquire(now: number): BreakerOpenError | undefined {
    if (now >= this.openUntil) {
      this.host.halfOpen('timeout-elapsed');
      return this.host.current.acquire(now);
    }
    return rejection(this.host.options.name, 'open', this.openUntil - now);
  }

  onSuccess(): void {}
  onFailure(): void {}
  onIgnore(): void {}

  retryAfter(now: number): number {
    return Math.max(0, this.openUntil - now);
  }
}

/**
 * Admits up to `halfOpenMaxConcurrent` trial calls at once and rejects the rest at once.
 * A trial that outlives `halfOpenPermitTimeout` counts as failed, so a hung probe cannot wedge it.
 */
export class HalfOpenState implements State {
  readonly kind = 'half-open';
  successes = 0;
  /** Start times of the trial calls in flight, oldest first. */
  readonly trials: number[] = [];

  constructor(private readonly host: StateHost) {}

  acquire(now: number): BreakerOpenError | undefined {
    const { halfOpenMaxConcurrent, halfOpenPermitTimeout, name } = this.host.options;
    const oldest = this.trials[0];
    // Stryker disable next-line ConditionalExpression: with no trial the age is NaN, which never reaches the timeout
    if (oldest !== undefined && now - oldest >= halfOpenPermitTimeout) {
      this.host.open('probe-expired');
      return this.host.current.acquire(now);
    }
    if (this.trials.length < halfOpenMaxConcurrent && this.host.tryAcquireProbe()) {
      this.trials.push(now);
      return undefined;
    }
    return rejection(name, 'half-open', 0);
  }

  /** Frees a trial slot held for a call that the fleet then turned away; no store permit was taken. */
  cancelTrial(start: number): void {
    const index = this.trials.indexOf(start);
    // Stryker disable next-line ConditionalExpression: outcomes reach only the state that admitted them, so the start is always listed
    if (index !== -1) this.trials.splice(index, 1);
  }

  onSuccess(_now: number, _slow: boolean, start: number): void {
    this.#release(start);
    if (++this.successes >= this.host.options.successThreshold) this.host.close('trial-success');
  }

  onFailure(_now: number, _slow: boolean, start: number, error: unknown): void {
    this.#release(start);
    this.host.open('trial-failure', requestedOpenTime(error));
  }

  onIgnore(start: number): void {
    this.#release(start);
  }

  retryAfter(): number {
    return 0;
  }

  #release(start: number): void {
    this.cancelTrial(start);
    this.host.releaseProbe();
  }
}

/**
 * Closed, but for `recoveryDuration` after a recovery it admits a share of calls that grows from
 * `recoveryInitialRate` to 100 %, rejecting the rest at once, so an upstream that just came back is
 * not flattened by the whole backlog. A failure meanwhile opens the breaker again.
 */
export class RecoveringState implements State {
  readonly kind = 'closed';
  #seen = 0;
  #admitted = 0;
  #sliceStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly host: StateHost,
    private readonly closed: ClosedState,
    readonly from: number,
    readonly until: number,
  ) {}

  /** The percentage of calls admitted at clock time `now`. */
  share(now: number): number {
    const initial = this.host.options.recoveryInitialRate;
    const progress = Math.min(1, Math.max(0, (now - this.from) / (this.until - this.from)));
    return initial + (100 - initial) * progress;
  }

  acquire(now: number): BreakerOpenError | undefined {
    if (now >= this.until) {
      this.host.endRecovery();
      return undefined;
    }
    // Counting rather than drawing lots keeps the admitted share exact, and the tests deterministic;
    // counts start afresh each second, so a rising share never admits a burst to catch up.
    if (now - this.#sliceStart >= 1_000) {
      this.#sliceStart = now;
      this.#seen = 0;
      this.#admitted = 0;
    }
    this.#seen++;
    if (this.#admitted * 100 < this.share(now) * this.#seen) {
      this.#admitted++;
      return undefined;
    }
    return rejection(this.host.options.name, 'recovering', 0);
  }

  onSuccess(now: number, slow: boolean): void {
    this.closed.onSuccess(now, slow);
  }

  onFailure(_now: number, _slow: boolean, _start: number, error: unknown): void {
    this.host.open('recovery-failure', requestedOpenTime(error));
  }

  onIgnore(): void {}

  retryAfter(): number {
    return 0;
  }
}

/** Rejects every call until `reset()`. */
export class ForcedOpenState implements State {
  readonly kind = 'forced-open';

  constructor(private readonly host: StateHost) {}

  acquire(): BreakerOpenError {
    return rejection(this.host.options.name, 'forced-open', this.host.options.timeout);
  }

  onSuccess(): void {}
  onFailure(): void {}
  onIgnore(): void {}

  retryAfter(): number {
    return this.host.options.timeout;
  }
}

/** Admits every call and records nothing, until `reset()`. */
export class DisabledState implements State {
  readonly kind = 'disabled';

  // Stryker disable next-line BlockStatement: an empty body returns undefined too
  acquire(): undefined {
    return undefined;
  }

  onSuccess(): void {}
  onFailure(): void {}
  onIgnore(): void {}

  retryAfter(): number {
    return 0;
  }
}
