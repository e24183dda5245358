import type { Clock, TimerHandle } from './clock.js';
import { BreakerOpenError, CallTimeoutError } from './errors.js';
import { Emitter, type BreakerEvents, type TransitionReason } from './events.js';
import { breakerOptions, type BreakerOptions, type ResolvedOptions } from './options.js';
import { parseSharedState, type BreakerSnapshot } from './snapshot.js';
import {
  ClosedState,
  DisabledState,
  ForcedOpenState,
  HalfOpenState,
  OpenState,
  RecoveringState,
  type BreakerState,
  type State,
  type StateHost,
} from './state.js';
import type { OutcomeBatch, SharedState, StoreSession } from './store.js';
import { CountWindow, TimeWindow, type SlidingWindow } from './windows/index.js';
import { CallContext, type FireContext } from './context.js';
import type { BreakerStats } from './stats.js';

/** Options for one `fire`. */
export interface FireOptions {
  /** The caller's signal: its abort rejects the call with the signal's reason and counts neither way. */
  signal?: AbortSignal | undefined;
}

/** A call admitted by {@link CircuitBreaker.acquire}; report its outcome exactly once (later reports are ignored). */
export interface CallPermit {
  /** Clock time at which the call was admitted (the breaker's `clock`), from which its duration counts. */
  readonly start: number;
  /** The call succeeded. */
  success(): void;
  /**
   * The call failed; `isFailure` is consulted, so an error it turns down counts neither way.
   * A `CallTimeoutError` always counts, and emits `timeout`.
   */
  failure(error?: unknown): void;
  /** The call ended without telling anything about the upstream (a client hung up, say); gives the trial permit back. */
  ignore(): void;
}

/** A call admitted after waiting for the fleet: the round it belongs to and when it started. */
interface Admission {
  round: number;
  start: number;
}

const FLUSH_CALLS = 10_000;
const FLUSH_INTERVAL_MS = 250;
/** Bits of `#hearing`: the per-call events that have listeners. */
const HEAR_SUCCESS = 1;
const HEAR_FAILURE = 2;
const HEAR_IGNORED = 4;
const HEAR_REJECT = 8;
const HEAR_TIMEOUT = 16;
let replicaCount = 0;

/**
 * The classes a breaker makes for itself, set by the class's static block so that they reach its private
 * members. (Nothing in the class body names the class: the bundler would then rename it.)
 */
let Host: new (breaker: CircuitBreaker) => StateHost;
let Permit: new (breaker: CircuitBreaker, round: number, start: number) => CallPermit;

/**
 * A circuit breaker: closed while calls succeed, open (rejecting at once) after too many fail,
 * half-open to let a few trial calls test the upstream before closing again.
 */
export class CircuitBreaker extends Emitter<BreakerEvents> {
  static {
    /** What the states may ask of their breaker; a class rather than closures, to keep idle breakers small. */
    Host = class implements StateHost {
      constructor(readonly breaker: CircuitBreaker) {}

      get options(): ResolvedOptions {
        return this.breaker.options;
      }

      get current(): State {
        return this.breaker.#state;
      }

      open(reason: TransitionReason, retryAfterMs?: number): void {
        this.breaker.#open(reason, retryAfterMs);
      }

      halfOpen(reason: TransitionReason): void {
        this.breaker.#transition(new HalfOpenState(this), reason);
      }

      close(reason: TransitionReason): void {
        this.breaker.#close(reason);
      }

      endRecovery(): void {
        this.breaker.#state = this.breaker.#closed;
      }

      tryAcquireProbe(): boolean {
        const { options } = this.breaker;
        const session = this.breaker.#session;
        return (
          session === undefined ||
          session.tryAcquireProbe(options.halfOpenMaxConcurrent, options.halfOpenPermitTimeout)
        );
      }

      releaseProbe(): void {
        this.breaker.#session?.releaseProbe();
      }
    };

    /** A call admitted by `acquire()`; a class rather than closures, as HTTP adapters make one per request. */
    Permit = class implements CallPermit {
      #settled = false;

      constructor(
        readonly breaker: CircuitBreaker,
        readonly round: number,
        readonly start: number,
      ) {}

      success(): void {
        if (this.#settled) return;
        this.#settled = true;
        this.breaker.#settleSuccess(this.round, this.start);
      }

      failure(error?: unknown): void {
        if (this.#settled) return;
        this.#settled = true;
        if (error instanceof CallTimeoutError) this.breaker.#settleTimeout(this.round, this.start, error);
        else this.breaker.#settleError(this.round, this.start, error);
      }

      ignore(): void {
        if (this.#settled) return;
        this.#settled = true;
        this.breaker.#settleIgnored(this.round, this.start, undefined);
      }
    };
  }

  /** Options after defaults; those left at their default are inherited from one shared object. */
  readonly options: ResolvedOptions;
  readonly #clock: Clock;
  readonly #host: StateHost;
  readonly #closed: ClosedState;
  #state: State;
  #round = 0;
  /** The newest round seen from the store. */
  #fleetRound = 0;
  #trips = 0;
  #openedAt: number | null = null;
  #openTimer: TimerHandle | undefined;
  #disposed = false;
  /** Whether calls read the clock when they start and end. */
  #measure: boolean;
  /** Bits of the per-call events that have listeners (HEAR_*). */
  #hearing = 0;
  readonly #session: StoreSession | undefined;
  // Stryker disable next-line StringLiteral: the id is read only with a store, and a breaker with a store sets it before it connects
  #replicaId = '';
  #batch: OutcomeBatch | undefined;
  #lastFlush = 0;
  #successes = 0;
  #failures = 0;
  #timeouts = 0;
  #rejections = 0;
  #ignored = 0;
  #stale = 0;

  constructor(options?: BreakerOptions) {
    super();
    const o = breakerOptions(options);
    this.options = o;
    this.#clock = o.clock;
    this.#measure = o.window?.type === 'time' || o.slowCallDuration !== undefined;
    this.#host = new Host(this);
    this.#closed = new ClosedState(this.#host, createWindow(o.window));
    if (o.store !== undefined) this.#lastFlush = this.#clock.now();
    this.#state = this.#closed;
    if (o.initialState !== undefined) this.#restore(o.initialState);
    // Stryker disable next-line ConditionalExpression: an id made for a breaker without a store is never read
    if (o.store !== undefined) {
      this.#replicaId = `${o.name}#${process.pid}.${++replicaCount}.${Math.random().toString(36).slice(2, 8)}`;
    }
    this.#session = o.store?.connect(o.name, {
      id: this.#replicaId,
      options: o,
      applyRemote: (state) => this.#applyRemote(state),
      reportError: (error) => this.emit('store-error', { error }),
    });
  }

  /** The breaker's name. */
  get name(): string {
    return this.options.name;
  }

  /** The current state; an open breaker whose `timeout` has passed reads (and becomes) half-open. */
  get state(): BreakerState {
    const state = this.#state;
    if (state instanceof OpenState && this.#clock.now() >= state.openUntil) {
      this.#transition(new HalfOpenState(this.#host), 'timeout-elapsed');
    }
    return this.#state.kind;
  }

  /**
   * Calls `fn({ signal })` when the breaker allows it and returns its result; rejects at once with
   * {@link BreakerOpenError}, without calling `fn`, when it does not.
   */
  fire<T>(fn: (context: FireContext) => T | PromiseLike<T>, options?: FireOptions): Promise<Awaited<T>> {
    const signal = options?.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const state = this.#state;
    // NaN marks a call whose start was not timed; it then reports a duration of 0.
    let start = Number.NaN;
    if (state !== this.#closed) {
      start = this.#clock.now();
      const rejection = state.acquire(start);
      if (rejection !== undefined) {
        const trial = this.#awaitTrial(rejection, start);
        if (trial === undefined) return this.#reject(rejection);
        return trial.then((admitted) => {
          if (signal?.aborted === true) {
            this.#settleIgnored(admitted.round, admitted.start, signal.reason);
            throw signal.reason;
          }
          return this.#run(fn, admitted.round, admitted.start, signal);
        });
      }
    } else if (this.#measure) {
      start = this.#clock.now();
    }
    return this.#run(fn, this.#round, start, signal);
  }

  #run<T>(
    fn: (context: FireContext) => T | PromiseLike<T>,
    round: number,
    start: number,
    signal: AbortSignal | undefined,
  ): Promise<Awaited<T>> {
    // Stryker disable next-line ConditionalExpression: without a deadline or a signal, the guarded path settles each call the same way
    if (signal !== undefined || this.options.callTimeout !== undefined) {
      return this.#fireGuarded(fn, round, start, signal);
    }
    let result: T | PromiseLike<T>;
    try {
      result = fn(new CallContext());
    } catch (error) {
      this.#settleError(round, start, error);
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#settleSuccess(round, start);
        return value;
      },
      (error: unknown) => {
        this.#settleError(round, start, error);
        throw error;
      },
    );
  }

  /** Returns a function that passes its arguments to `fn` through {@link CircuitBreaker.fire}. */
  wrap<A extends unknown[], T>(fn: (...args: A) => T | PromiseLike<T>): (...args: A) => Promise<Awaited<T>> {
    return (...args: A) => this.fire(() => fn(...args));
  }

  /**
   * Admits one call whose outcome the caller reports on the returned permit, for code that cannot
   * hand the breaker a function (HTTP middleware, say). Throws {@link BreakerOpenError} when not admitted.
   */
  acquire(): CallPermit {
    const start = this.#clock.now();
    const rejection = this.#state.acquire(start);
    if (rejection !== undefined) {
      this.#countRejection(rejection);
      throw rejection;
    }
    return new Permit(this, this.#round, start);
  }

  /**
   * Like {@link CircuitBreaker.acquire}, but a half-open breaker whose store must first ask the fleet
   * for a trial permit waits for the answer (a bounded moment) instead of turning the call away:
   * returns the permit, or a promise of it that rejects with {@link BreakerOpenError} if the fleet has
   * none free. Throws {@link BreakerOpenError} when the call is turned away at once.
   */
  admit(): CallPermit | Promise<CallPermit> {
    const start = this.#clock.now();
    const rejection = this.#state.acquire(start);
    if (rejection === undefined) return new Permit(this, this.#round, start);
    const trial = this.#awaitTrial(rejection, start);
    if (trial === undefined) {
      this.#countRejection(rejection);
      throw rejection;
    }
    return trial.then((admitted) => new Permit(this, admitted.round, admitted.start));
  }

  /** Opens the breaker until {@link CircuitBreaker.reset}; emits `open` and `state-change`. */
  forceOpen(): void {
    this.#transition(new ForcedOpenState(this.#host), 'force-open');
  }

  /** Lets every call through and never changes state until {@link CircuitBreaker.reset}; `stats().counts` still count. */
  disable(): void {
    this.#transition(new DisabledState(), 'disable');
  }

  /** Closes the breaker and clears every counter and window. */
  reset(): void {
    this.#trips = 0;
    this.#openedAt = null;
    this.#successes = this.#failures = this.#timeouts = this.#rejections = this.#ignored = this.#stale = 0;
    this.#close('reset');
  }

  /** A JSON-serialisable snapshot of the breaker's state and counts. */
  stats(): BreakerStats {
    const state = this.state;
    const now = this.#clock.now();
    const current = this.#state;
    const window = this.#closed.window;
    window?.advance(now);
    const windowCalls = window?.calls ?? 0;
    const decided = this.#successes + this.#failures;
    return {
      name: this.name,
      state,
      round: this.#round,
      openedAt: this.#openedAt,
      retryAfterMs: current.retryAfter(now),
      trips: this.#trips,
      consecutiveFailures: this.#closed.consecutiveFailures,
      halfOpen:
        current instanceof HalfOpenState
          ? { successes: current.successes, inFlight: current.trials.length }
          : { successes: 0, inFlight: 0 },
      recovery:
        current instanceof RecoveringState
          ? { until: current.until, admittedRate: current.share(now) }
          : null,
      failureRate: window !== undefined ? rate(window.failures, windowCalls) : rate(this.#failures, decided),
      window:
        window === undefined
          ? null
          : {
              calls: windowCalls,
              failures: window.failures,
              slow: window.slow,
              failureRate: rate(window.failures, windowCalls),
              slowCallRate: rate(window.slow, windowCalls),
            },
      counts: {
        successes: this.#successes,
        failures: this.#failures,
        timeouts: this.#timeouts,
        rejections: this.#rejections,
        ignored: this.#ignored,
        stale: this.#stale,
      },
    };
  }

  /** The state to save and pass back as `initialState`, so a restarted process resumes an open breaker. */
  toJSON(): BreakerSnapshot {
    const state = this.#state;
    return {
      version: 1,
      name: this.name,
      state: state.kind,
      round: this.#round,
      openedAt: this.#openedAt,
      openUntil: state instanceof OpenState ? state.openUntil : null,
      trips: this.#trips,
    };
  }

  /** Clears the breaker's timer, flushes its counts and leaves its store; it keeps working without timers. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#clearOpenTimer();
    this.#flush();
    this.#session?.close();
  }

  protected override onListenerAdded(name: keyof BreakerEvents): void {
    if (name === 'success' || name === 'failure' || name === 'ignored') this.#measure = true;
    this.#heard();
  }

  // Stryker disable next-line BlockStatement: a bit left for a removed listener only makes emit find no listener
  protected override onListenerRemoved(): void {
    this.#heard();
  }

  /**
   * Which per-call events have listeners, as one number the call path tests: a field read, where a
   * lookup in the table of listeners would slow every call once the breaker has any listener at all.
   */
  #heard(): void {
    this.#hearing =
      (this.listens('success') ? HEAR_SUCCESS : 0) |
      (this.listens('failure') ? HEAR_FAILURE : 0) |
      (this.listens('ignored') ? HEAR_IGNORED : 0) |
      (this.listens('reject') ? HEAR_REJECT : 0) |
      (this.listens('timeout') ? HEAR_TIMEOUT : 0);
  }

  #fireGuarded<T>(
    fn: (context: FireContext) => T | PromiseLike<T>,
    round: number,
    start: number,
    signal: AbortSignal | undefined,
  ): Promise<Awaited<T>> {
    const callTimeout = this.options.callTimeout;
    const clock = this.#clock;
    return new Promise<Awaited<T>>((resolve, reject) => {
      const context = new CallContext();
      let done = false;
      let timer: TimerHandle | undefined;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        // Stryker disable next-line ConditionalExpression: a clock ignores handles it does not know, undefined among them
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const onAbort = (): void => {
        if (!finish()) return;
        const reason: unknown = signal!.reason;
        CallContext.abort(context, reason);
        this.#settleIgnored(round, start, reason);
        reject(reason);
      };
      if (callTimeout !== undefined) {
        timer = clock.setTimeout(() => {
          if (!finish()) return;
          const error = new CallTimeoutError(this.name, callTimeout);
          CallContext.abort(context, error);
          this.#settleTimeout(round, start, error);
          reject(error);
        }, callTimeout);
      }
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: the first abort removes the listener in finish() anyway
      signal?.addEventListener('abort', onAbort, { once: true });
      let result: T | PromiseLike<T>;
      try {
        result = fn(context);
      } catch (error) {
        if (finish()) {
          this.#settleError(round, start, error);
          reject(error);
        }
        return;
      }
      Promise.resolve(result).then(
        (value) => {
          if (!finish()) return;
          this.#settleSuccess(round, start);
          resolve(value);
        },
        (error: unknown) => {
          if (!finish()) return;
          this.#settleError(round, start, error);
          reject(error);
        },
      );
    });
  }

  /**
   * A half-open breaker with a free local trial slot whose store could not grant a fleet permit at
   * once: holds the slot and asks the store, so that a trial is admitted on the first call at any
   * traffic level. `undefined` when there is nothing to wait for.
   */
  #awaitTrial(rejection: BreakerOpenError, start: number): Promise<Admission> | undefined {
    const state = this.#state;
    const session = this.#session;
    if (!(state instanceof HalfOpenState) || session?.acquireProbe === undefined) return undefined;
    const { halfOpenMaxConcurrent, halfOpenPermitTimeout } = this.options;
    if (state.trials.length >= halfOpenMaxConcurrent) return undefined;
    state.trials.push(start);
    const round = this.#round;
    const answered = (granted: boolean): Admission => {
      // Stryker disable next-line LogicalOperator,ConditionalExpression: the round changes exactly when the state object does, so either test says both
      if (this.#state === state && this.#round === round) {
        if (granted) return { round, start };
        state.cancelTrial(start);
        this.#countRejection(rejection);
        throw rejection;
      }
      // The state moved on while the fleet answered: the permit belongs to a round that is over.
      if (granted) session.releaseProbe();
      const now = this.#clock.now();
      const again = this.#state.acquire(now);
      if (again === undefined) return { round: this.#round, start: now };
      this.#countRejection(again);
      throw again;
    };
    return session
      .acquireProbe(halfOpenMaxConcurrent, halfOpenPermitTimeout)
      .then(answered, () => answered(true));
  }

  #reject(rejection: BreakerOpenError): Promise<never> {
    this.#countRejection(rejection);
    return Promise.reject(rejection);
  }

  #countRejection(rejection: BreakerOpenError): void {
    this.#rejections++;
    // Stryker disable next-line ConditionalExpression: emitting an event nobody listens to does nothing
    if (this.#hearing & HEAR_REJECT) this.emit('reject', { error: rejection });
  }

  #settleSuccess(round: number, start: number): void {
    const now = this.#measure ? this.#clock.now() : 0;
    const durationMs = elapsed(start, now);
    const slowAfter = this.options.slowCallDuration;
    const slow = slowAfter !== undefined && durationMs >= slowAfter;
    const stale = round !== this.#round;
    if (stale) this.#stale++;
    else this.#successes++;
    // Stryker disable next-line ConditionalExpression: emitting an event nobody listens to does nothing
    if (this.#hearing & HEAR_SUCCESS) this.emit('success', { durationMs, slow, stale });
    if (stale || round !== this.#round) return;
    // Stryker disable next-line ConditionalExpression: without a store, a batch is never sent
    if (this.#session !== undefined) this.#count(false, slow, now);
    this.#state.onSuccess(now, slow, start);
  }

  #settleError(round: number, start: number, error: unknown): void {
    const isFailure = this.options.isFailure;
    // Stryker disable next-line ConditionalExpression: calling a missing isFailure throws, and a throwing isFailure counts the error, as none does
    if (isFailure !== undefined) {
      // Stryker disable next-line BooleanLiteral: both paths below assign it before it is read
      let counts = true;
      try {
        counts = isFailure(error) !== false;
      } catch {
        counts = true;
      }
      if (!counts) return this.#settleIgnored(round, start, error);
    }
    this.#settleFailure(round, start, error);
  }

  #settleTimeout(round: number, start: number, error: CallTimeoutError): void {
    if (round === this.#round) this.#timeouts++;
    // Stryker disable next-line ConditionalExpression: emitting an event nobody listens to does nothing
    if (this.#hearing & HEAR_TIMEOUT) this.emit('timeout', { error, stale: round !== this.#round });
    this.#settleFailure(round, start, error);
  }

  #settleFailure(round: number, start: number, error: unknown): void {
    const now = this.#measure ? this.#clock.now() : 0;
    const durationMs = elapsed(start, now);
    const slowAfter = this.options.slowCallDuration;
    const slow = slowAfter !== undefined && durationMs >= slowAfter;
    const stale = round !== this.#round;
    if (stale) this.#stale++;
    else this.#failures++;
    // Stryker disable next-line ConditionalExpression: emitting an event nobody listens to does nothing
    if (this.#hearing & HEAR_FAILURE) this.emit('failure', { error, durationMs, slow, stale });
    if (stale || round !== this.#round) return;
    // Stryker disable next-line ConditionalExpression: without a store, a batch is never sent
    if (this.#session !== undefined) this.#count(true, slow, now);
    this.#state.onFailure(now, slow, start, error);
  }

  #settleIgnored(round: number, start: number, error: unknown): void {
    const stale = round !== this.#round;
    if (stale) this.#stale++;
    else this.#ignored++;
    // Stryker disable next-line ConditionalExpression: emitting an event nobody listens to does nothing
    if (this.#hearing & HEAR_IGNORED) {
      const durationMs = this.#measure ? elapsed(start, this.#clock.now()) : 0;
      this.emit('ignored', { error, durationMs, stale });
    }
    if (stale || round !== this.#round) return;
    this.#state.onIgnore(start);
  }

  #open(reason: TransitionReason, requestedMs?: number): void {
    const o = this.options;
    const now = this.#clock.now();
    const trips = this.#trips + 1;
    let duration: number;
    if (requestedMs !== undefined) {
      duration = Math.min(requestedMs, o.maxTimeout);
    } else {
      duration = Math.min(o.timeout * o.timeoutMultiplier ** (trips - 1), o.maxTimeout);
      // Stryker disable next-line ConditionalExpression,EqualityOperator: with no jitter the factor is 1
      if (o.timeoutJitter > 0) duration *= 1 - o.timeoutJitter * o.random();
    }
    duration = Math.round(duration);
    this.#trips = trips;
    this.#openedAt = now;
    this.#transition(new OpenState(this.#host, now, now + duration), reason);
  }

  #close(reason: TransitionReason): void {
    this.#trips = 0;
    this.#closed.consecutiveFailures = 0;
    this.#closed.window?.reset();
    this.#transition(this.#closedAfter(reason), reason);
  }

  /** The closed state to enter: a recovery ramp after trial calls succeeded, if one is configured. */
  #closedAfter(reason: TransitionReason): State {
    const duration = this.options.recoveryDuration;
    if (reason !== 'trial-success' || duration === 0) return this.#closed;
    const now = this.#clock.now();
    return new RecoveringState(this.#host, this.#closed, now, now + duration);
  }

  #transition(next: State, reason: TransitionReason, remote?: SharedState): void {
    const from = this.#state.kind;
    this.#clearOpenTimer();
    this.#flush();
    this.#state = next;
    // A local change outranks every shared state seen so far; a shared one is adopted with its round.
    this.#round =
      remote === undefined
        ? Math.max(this.#round, this.#fleetRound) + 1
        : Math.max(this.#round + 1, remote.round);
    if (next instanceof OpenState) this.#armOpenTimer(next);
    const at = this.#clock.now();
    if (remote === undefined && this.#session !== undefined) {
      this.#session.publish({ ...this.toJSON(), reason, origin: this.#replicaId });
    }
    const event = { from, to: next.kind, reason, at };
    this.emit('state-change', event);
    switch (next.kind) {
      case 'open':
      case 'forced-open':
        // Stryker disable next-line ConditionalExpression: emitting an event nobody listens to does nothing
        if (this.listens('open')) {
          this.emit('open', { ...event, retryAfterMs: next.retryAfter(at), trips: this.#trips });
        }
        break;
      case 'half-open':
        this.emit('half-open', event);
        break;
      case 'closed':
        this.emit('close', event);
        break;
      // Stryker disable next-line ConditionalExpression,StringLiteral: the case does nothing, as no case does
      case 'disabled':
        break;
    }
  }

  #armOpenTimer(state: OpenState): void {
    if (this.#disposed) return;
    const delay = Math.max(0, state.openUntil - this.#clock.now());
    this.#openTimer = this.#clock.setTimeout(
      () => {
        this.#openTimer = undefined;
        // Stryker disable next-line ConditionalExpression: every state change clears the timer first, so it only fires in its own state
        if (this.#state === state) this.#transition(new HalfOpenState(this.#host), 'timeout-elapsed');
      },
      delay,
      { unref: true },
    );
  }

  #clearOpenTimer(): void {
    // Stryker disable next-line ConditionalExpression: a clock ignores handles it does not know, undefined among them
    if (this.#openTimer === undefined) return;
    this.#clock.clearTimeout(this.#openTimer);
    this.#openTimer = undefined;
  }

  #count(failure: boolean, slow: boolean, measured: number): void {
    const batch = (this.#batch ??= { calls: 0, failures: 0, slow: 0 });
    batch.calls++;
    if (failure) batch.failures++;
    if (slow) batch.slow++;
    // An untimed call reads the clock only every 16th time: the flush interval needs no more.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: FLUSH_CALLS is a multiple of 16, so the 16th-call check reaches it
    if (!this.#measure && batch.calls % 16 !== 0 && batch.calls < FLUSH_CALLS) return;
    const now = this.#measure ? measured : this.#clock.now();
    if (batch.calls >= FLUSH_CALLS || now - this.#lastFlush >= FLUSH_INTERVAL_MS) this.#flush(now);
  }

  #flush(now = this.#clock.now()): void {
    const batch = this.#batch;
    // Stryker disable next-line ConditionalExpression: without a store no batch is made, and a batch always holds a call
    if (this.#session === undefined || batch === undefined || batch.calls === 0) return;
    this.#batch = undefined;
    this.#lastFlush = now;
    this.#session.report(batch);
  }

  #restore(snapshot: BreakerSnapshot): void {
    this.#round = snapshot.round;
    this.#trips = snapshot.trips;
    this.#openedAt = snapshot.openedAt;
    this.#state = this.#stateFrom(snapshot);
    if (this.#state instanceof OpenState) this.#armOpenTimer(this.#state);
  }

  #applyRemote(received: SharedState): void {
    if (this.#disposed) return;
    // What a store delivers came from outside the process: it is checked like `initialState`.
    const shared = parseSharedState(received);
    // Stryker disable next-line ConditionalExpression,StringLiteral: a string has no name, so the name test turns it away too
    if (typeof shared === 'string' || shared.name !== this.name) {
      const problem = typeof shared === 'string' ? shared : `it is the state of "${shared.name}"`;
      const error = new TypeError(`Ignored a shared state for breaker "${this.name}": ${problem}.`);
      this.emit('store-error', { error });
      return;
    }
    // Shared states are ordered by their own rounds: a store may keep a local change to this replica
    // (one that lacked a quorum, say), so the local round is no measure of what is new to the fleet.
    if (shared.round <= this.#fleetRound) return;
    this.#fleetRound = shared.round;
    if (shared.origin === this.#replicaId) return;
    const current = this.#state;
    const same =
      current.kind === shared.state &&
      (!(current instanceof OpenState) || current.openUntil === shared.openUntil);
    if (same) return;
    this.#trips = shared.trips;
    this.#openedAt = shared.openedAt;
    let next = this.#stateFrom(shared);
    if (next === this.#closed) {
      this.#closed.consecutiveFailures = 0;
      this.#closed.window?.reset();
      next = this.#closedAfter(shared.reason);
    }
    this.#transition(next, 'remote', shared);
  }

  #stateFrom(snapshot: BreakerSnapshot): State {
    switch (snapshot.state) {
      case 'open': {
        const openedAt = snapshot.openedAt ?? this.#clock.now();
        return new OpenState(this.#host, openedAt, snapshot.openUntil ?? openedAt + this.options.timeout);
      }
      case 'half-open':
        return new HalfOpenState(this.#host);
      case 'forced-open':
        return new ForcedOpenState(this.#host);
      // Stryker disable next-line ConditionalExpression,StringLiteral: the case does nothing, as no case does
      case 'disabled':
        return new DisabledState();
      case 'closed':
        return this.#closed;
    }
  }
}

function createWindow(window: ResolvedOptions['window']): SlidingWindow | undefined {
  if (window === undefined) return undefined;
  return window.type === 'count'
    ? new CountWindow(window.size)
    : new TimeWindow(window.duration, window.buckets);
}

function elapsed(start: number, now: number): number {
  return Number.isNaN(start) ? 0 : now - start;
}

function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : (part * 100) / whole;
}
