import { errors, type Dispatcher } from 'undici';
import {
  BreakerOpenError,
  BreakerRegistry,
  CallTimeoutError,
  InvalidOptionError,
  bulkhead as makeBulkhead,
  resolveOptions,
  systemClock,
  type BreakerOptions,
  type BulkheadPolicy,
  type CallPermit,
  type CircuitBreaker,
  type Clock,
  type TimerHandle,
} from '@breaker/core';
import {
  KeyedCache,
  RetrySchedule,
  describeValue as describe,
  isBusy,
  isReplayable,
  noteRejections,
  parseRetryAfter,
  resolveHttpPolicies,
  takeSlot,
  type HttpBulkheadOptions,
  type HttpRetryOptions,
  type ReleaseSlot,
} from '@breaker/core/http';

/** Options of {@link circuitBreaker}: the breaker's own, plus how requests map to breakers. */
export interface InterceptorOptions extends Omit<BreakerOptions, 'isFailure' | 'name' | 'initialState'> {
  /** Prefix of breaker names (`name:key`); without it a breaker is named by its key alone. */
  name?: string;
  /** The breaker a request goes through (default: its origin, such as `https://partner.example`). */
  key?: (options: Dispatcher.DispatchOptions) => string;
  /** Whether a response status counts as a failure (default: 500 and up). Connection errors and timeouts always do. */
  isFailure?: (status: number) => boolean;
  /** Where breakers live; pass one registry to share them with metrics and the dashboard. */
  registry?: BreakerRegistry;
  /** Most breakers this interceptor's own registry keeps (default 1000); not with `registry`. */
  maxKeys?: number;
  /**
   * At most `maxConcurrent` requests at once per breaker (origin or key), `maxQueue` more waiting up to
   * `queueTimeout`; beyond that a request fails at once with `BulkheadRejectedError`. Off by default.
   */
  bulkhead?: HttpBulkheadOptions;
  /**
   * Sends a failed request again, each try through the breaker, when it is idempotent (its method is
   * in `methods`, or it has an `Idempotency-Key` header), its body can be replayed, and nothing of the
   * response has reached the caller yet. Off by default.
   */
  retry?: HttpRetryOptions;
}

/** An upstream answered with a failing status. */
export class UpstreamStatusError extends Error {
  override readonly name = 'UpstreamStatusError';
  readonly code = 'BREAKER_UPSTREAM_STATUS';
  readonly status: number;
  /** How long the upstream asked to be left alone (`Retry-After` on a 503 or 429). */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, retryAfterMs: number | undefined) {
    super(`The upstream answered ${status}`);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

const CONTEXT = 'circuitBreaker() from @breaker/undici';
const OWN_KEYS = ['name', 'key', 'isFailure', 'registry', 'maxKeys', 'bulkhead', 'retry'];

/** The breakers behind an interceptor, for tests, metrics and health checks. */
export interface BreakerInterceptor extends Dispatcher.DispatcherComposeInterceptor {
  readonly registry: BreakerRegistry;
  /** The bulkhead of a breaker, by the breaker's name, once a request has gone through it. */
  bulkheadOf(name: string): BulkheadPolicy | undefined;
}

/**
 * An interceptor for `Agent.compose` / `Dispatcher.compose`: one breaker per origin (or `key`).
 * While a breaker is open its requests fail at once with `BreakerOpenError`, without a socket.
 */
export function circuitBreaker(options: InterceptorOptions = {}): BreakerInterceptor {
  return createInterceptor(options, CONTEXT, OWN_KEYS);
}

/** What every request through one interceptor shares. */
interface Shared {
  readonly registry: BreakerRegistry;
  readonly breakerOptions: Omit<BreakerOptions, 'name'>;
  /** The `name` option: keys refused by a full registry share the breaker `name:__overflow__`. */
  readonly group: string | undefined;
  readonly isFailure: (status: number) => boolean;
  readonly clock: Clock;
}

/** The bulkhead and retry schedule of one breaker. */
interface Limits {
  readonly bulkhead: BulkheadPolicy | undefined;
  readonly retry: RetrySchedule | undefined;
}

/** {@link circuitBreaker}, reporting bad options as `context`'s, which also takes `knownKeys`. */
export function createInterceptor(
  options: InterceptorOptions,
  context: string,
  knownKeys: readonly string[],
): BreakerInterceptor {
  const invalid = (option: string, allowed: string, received: unknown): InvalidOptionError =>
    new InvalidOptionError(
      option,
      `Invalid ${context} option "${option}": expected ${allowed}; received ${describe(received)}.`,
    );
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(
      'options',
      `${context} options must be an object; received ${describe(options)}.`,
    );
  }
  const {
    name,
    key,
    isFailure = defaultIsFailure,
    registry: given,
    maxKeys,
    bulkhead,
    retry,
    ...breakerOptions
  } = options;
  if (name !== undefined && (typeof name !== 'string' || name === ''))
    throw invalid('name', 'a non-empty string', name);
  if (key !== undefined && typeof key !== 'function') throw invalid('key', 'a function', key);
  if (typeof isFailure !== 'function')
    throw invalid('isFailure', 'a function (status) => boolean', isFailure);
  if (given !== undefined && !(given instanceof BreakerRegistry))
    throw invalid('registry', 'a BreakerRegistry', given);
  if (maxKeys !== undefined && (!Number.isInteger(maxKeys) || maxKeys < 1)) {
    throw invalid('maxKeys', 'a whole number of at least 1', maxKeys);
  }
  const policies = resolveHttpPolicies({ bulkhead, retry }, context);
  resolveOptions({ ...breakerOptions, name: name ?? 'upstream' }, context, knownKeys);
  const registry = given ?? new BreakerRegistry({ maxSize: maxKeys ?? 1_000 });
  const clock = breakerOptions.clock ?? systemClock;
  const shared: Shared = { registry, breakerOptions, group: name, isFailure, clock };

  const limit = policies.bulkhead;
  const retryOptions = policies.retry;
  const limits =
    limit === undefined && retryOptions === undefined
      ? undefined
      : new KeyedCache<Limits>(
          registry.maxSize,
          (breakerName) => ({
            bulkhead:
              limit === undefined
                ? undefined
                : noteRejections(makeBulkhead({ ...limit, name: breakerName, clock }), registry, breakerName),
            retry: retryOptions === undefined ? undefined : new RetrySchedule(retryOptions, clock),
          }),
          (value) => value.bulkhead !== undefined && isBusy(value.bulkhead),
        );

  const breakerName = (opts: Dispatcher.DispatchOptions): string => {
    const value = key === undefined ? originOf(opts.origin) : String(key(opts));
    return name === undefined ? value : `${name}:${value}`;
  };

  const interceptor = (dispatch: Dispatcher['dispatch']): Dispatcher['dispatch'] =>
    function breakerInterceptor(opts, handler) {
      const id = breakerName(opts);
      const { bulkhead: limiter, retry: schedule } = limits?.get(id) ?? NO_LIMITS;
      let replay: RetrySchedule | undefined;
      if (schedule !== undefined && isReplayable(schedule.options, opts.method, opts.headers, opts.body)) {
        replay = schedule;
        replay.deposit();
      }
      return new Exchange(shared, dispatch, opts, handler, id, replay).start(limiter);
    };
  return Object.assign(interceptor, {
    registry,
    bulkheadOf: (breaker: string) => limits?.peek(breaker)?.bulkhead,
  });
}

const NO_LIMITS: Limits = { bulkhead: undefined, retry: undefined };

function defaultIsFailure(status: number): boolean {
  return status >= 500;
}

function originOf(origin: Dispatcher.DispatchOptions['origin']): string {
  if (origin === undefined) return 'unknown';
  return typeof origin === 'string' ? new URL(origin).origin : origin.origin;
}

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Headers = Record<string, string | string[] | undefined>;

/** Errors that say the request itself or the dispatcher is at fault: sending it again cannot help. */
const NOT_RETRYABLE = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_INVALID_RETURN_VALUE',
  'UND_ERR_ABORTED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CLOSED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
]);

function isRetryable(error: unknown): boolean {
  if (error instanceof BreakerOpenError) return false;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code !== 'string' || !NOT_RETRYABLE.has(code);
}

function retryAfterOf(error: unknown): number | undefined {
  return error instanceof UpstreamStatusError ? error.retryAfterMs : undefined;
}

/** A controller that is already aborted, for a request that fails before any try reaches the dispatcher. */
function deadController(reason: Error): Controller {
  return {
    aborted: true,
    paused: false,
    reason,
    abort() {},
    pause() {},
    resume() {},
  };
}

/** Watches an AbortSignal or an EventEmitter signal (undici takes both); returns how to stop. */
function watchAbort(signal: unknown, onAbort: () => void): () => void {
  if (typeof signal !== 'object' || signal === null) return () => {};
  const target = signal as {
    addEventListener?: (type: 'abort', fn: () => void) => void;
    removeEventListener?: (type: 'abort', fn: () => void) => void;
    on?: (type: 'abort', fn: () => void) => void;
    off?: (type: 'abort', fn: () => void) => void;
    removeListener?: (type: 'abort', fn: () => void) => void;
  };
  if (typeof target.addEventListener === 'function') {
    target.addEventListener('abort', onAbort);
    return () => target.removeEventListener?.('abort', onAbort);
  }
  if (typeof target.on === 'function') {
    target.on('abort', onAbort);
    return () => (target.off ?? target.removeListener)?.call(target, 'abort', onAbort);
  }
  return () => {};
}

function isAbortSignal(signal: unknown): signal is AbortSignal {
  return signal instanceof AbortSignal;
}

function abortReason(signal: unknown): Error {
  const reason = (signal as { reason?: unknown } | null)?.reason;
  return reason instanceof Error ? reason : new errors.RequestAbortedError();
}

/**
 * The controller the caller sees when a request may be tried more than once: the same object for
 * every try, acting on the try in flight, keeping a pause across tries, and turning an abort
 * between tries into the end of the request.
 */
class RelayController implements Controller {
  target: Controller | undefined;
  readonly #exchange: Exchange;
  #paused = false;
  #reason: Error | null = null;

  constructor(exchange: Exchange) {
    this.#exchange = exchange;
  }

  attach(target: Controller): void {
    this.target = target;
    if (this.#paused) target.pause();
  }

  get aborted(): boolean {
    return this.#reason !== null || (this.target?.aborted ?? false);
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason ?? this.target?.reason ?? null;
  }

  get rawHeaders(): NonNullable<Controller['rawHeaders']> | null {
    return this.target?.rawHeaders ?? null;
  }

  get rawTrailers(): NonNullable<Controller['rawTrailers']> | null {
    return this.target?.rawTrailers ?? null;
  }

  abort(reason: Error): void {
    if (this.#reason !== null) return;
    this.#reason = reason ?? new errors.RequestAbortedError();
    this.#exchange.abortByCaller(this.#reason);
  }

  pause(): void {
    this.#paused = true;
    this.target?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.target?.resume();
  }
}

/**
 * One request through the interceptor, from its bulkhead slot to its last try: decides whether a
 * failed try is sent again or passed on, and passes the caller's handler one request's events.
 */
class Exchange {
  readonly #shared: Shared;
  readonly #dispatch: Dispatcher['dispatch'];
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #handler: Handler;
  readonly #name: string;
  /** Set when the request may be sent again. */
  readonly #retry: RetrySchedule | undefined;
  readonly #relay: RelayController | undefined;
  readonly #signal: unknown;
  #attempt = 0;
  #started = false;
  /** Something of the response has been passed on: from then on it is the caller's, and final. */
  #forwarded = false;
  #done = false;
  #release: ReleaseSlot | undefined;
  #callerAbort: Error | undefined;
  /** Ends a wait in the bulkhead's queue or between tries. */
  #cancelWait: (() => void) | undefined;
  /** The wait chosen when a failing response was set aside to try again. */
  #nextDelay = 0;

  constructor(
    shared: Shared,
    dispatch: Dispatcher['dispatch'],
    opts: Dispatcher.DispatchOptions,
    handler: Handler,
    name: string,
    retry: RetrySchedule | undefined,
  ) {
    this.#shared = shared;
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#handler = handler;
    this.#name = name;
    this.#retry = retry;
    this.#relay = retry === undefined ? undefined : new RelayController(this);
    this.#signal = (opts as { signal?: unknown }).signal;
  }

  /** Takes a bulkhead slot, if there is a bulkhead, then makes the first try. Returns what dispatch returns. */
  start(bulkhead: BulkheadPolicy | undefined): boolean {
    if (bulkhead === undefined) return this.#try(true);
    const signal = this.#signal;
    let bridge: AbortController | undefined;
    let unwatch = (): void => {};
    if (!isAbortSignal(signal) && signal !== undefined && signal !== null) {
      bridge = new AbortController();
      const bridged = bridge;
      unwatch = watchAbort(signal, () => bridged.abort(abortReason(signal)));
    }
    const slot = takeSlot(bulkhead, bridge?.signal ?? (isAbortSignal(signal) ? signal : undefined));
    if (typeof slot === 'function') {
      unwatch();
      this.#release = slot;
      return this.#try(true);
    }
    this.#cancelWait = () => {};
    slot.then(
      (release) => {
        unwatch();
        this.#cancelWait = undefined;
        if (this.#done) return release();
        this.#release = release;
        this.#try(false);
      },
      (error: unknown) => {
        unwatch();
        this.#cancelWait = undefined;
        this.#fail(error instanceof Error ? error : abortReason(signal));
      },
    );
    // The request waits in the queue or fails a moment later, like a request undici has queued.
    return true;
  }

  /** Whether an error ends the request because the caller gave up on it. */
  isCallerAbort(error: Error): boolean {
    if (this.#callerAbort !== undefined) return true;
    if ((this.#signal as AbortSignal | undefined)?.aborted === true) return true;
    const code = (error as { code?: unknown }).code;
    return error.name === 'AbortError' || code === 'UND_ERR_ABORTED';
  }

  /** The caller aborted through the controller it was given: stop the try in flight, or the wait. */
  abortByCaller(reason: Error): void {
    if (this.#done) return;
    this.#callerAbort = reason;
    if (this.#cancelWait !== undefined) return this.#abortWait(reason);
    this.#relay?.target?.abort(reason);
  }

  requestStart(controller: Controller, context: unknown): void {
    const relay = this.#relay;
    if (relay === undefined) return this.#handler.onRequestStart?.(controller, context);
    relay.attach(controller);
    // The caller gave up while this try was on its way to a connection.
    if (this.#callerAbort !== undefined) return controller.abort(this.#callerAbort);
    if (this.#started) return;
    this.#started = true;
    this.#handler.onRequestStart?.(relay, context);
  }

  upgrade(controller: Controller, statusCode: number, headers: Headers, socket: unknown): void {
    if (this.#done) return;
    this.#forwarded = true;
    this.#finish();
    (this.#handler.onRequestUpgrade as ((...args: unknown[]) => void) | undefined)?.(
      this.#relay ?? controller,
      statusCode,
      headers,
      socket,
    );
  }

  /**
   * A try's response began. Returns `false` when the response is set aside, its body to be read and
   * dropped, so the request can be sent again; `true` when it goes to the caller.
   */
  responseStart(
    attempt: Attempt,
    controller: Controller,
    statusCode: number,
    headers: Headers,
    statusMessage: string | undefined,
    failure: UpstreamStatusError | undefined,
  ): boolean {
    if (this.#done) return true;
    if (failure !== undefined && !this.#forwarded) {
      const delay = this.#retryDelay(failure, attempt.breaker);
      if (delay !== undefined) {
        this.#nextDelay = delay;
        return false;
      }
    }
    this.#forwarded = true;
    (this.#handler.onResponseStart as ((...args: unknown[]) => void) | undefined)?.(
      this.#relay ?? controller,
      statusCode,
      headers,
      statusMessage,
    );
    return true;
  }

  responseData(controller: Controller, chunk: Buffer): void {
    if (this.#done) return;
    this.#handler.onResponseData?.(this.#relay ?? controller, chunk);
  }

  responseEnd(controller: Controller, trailers: Headers): void {
    if (this.#done) return;
    this.#finish();
    (this.#handler.onResponseEnd as ((...args: unknown[]) => void) | undefined)?.(
      this.#relay ?? controller,
      trailers,
    );
  }

  /** The body of a response set aside has been read: send the request again after the chosen wait. */
  retrySetAside(): void {
    if (this.#done) return;
    this.#wait(this.#nextDelay);
  }

  /** A try failed: `setAside` when its failing response was already set aside to try again. */
  responseError(attempt: Attempt, controller: Controller, error: Error, setAside: boolean): void {
    if (this.#done) return;
    if (!this.#forwarded && !this.isCallerAbort(error)) {
      const delay = setAside ? this.#nextDelay : this.#retryDelay(error, attempt.breaker);
      if (delay !== undefined) return this.#wait(delay);
    }
    this.#finish();
    this.#handler.onResponseError?.(this.#relay ?? controller, error);
  }

  /** Makes one try through the breaker. `sync`: called from the interceptor itself, whose return value it gives. */
  #try(sync: boolean): boolean {
    this.#attempt++;
    if (this.#relay !== undefined) this.#relay.target = undefined;
    let breaker: CircuitBreaker;
    let admitted: CallPermit | Promise<CallPermit>;
    try {
      const { registry, breakerOptions, group } = this.#shared;
      breaker = registry.get(this.#name, breakerOptions, group);
      admitted = breaker.admit();
    } catch (error) {
      if (sync && !(error instanceof BreakerOpenError)) {
        this.#finish();
        throw error;
      }
      // An open breaker is final, on the first try as on a retry. Answer asynchronously, as a
      // dispatcher would: callers expect dispatch to return first.
      const failure = error instanceof Error ? error : new Error(String(error));
      if (sync) queueMicrotask(() => this.#fail(failure));
      else this.#fail(failure);
      return true;
    }
    if (admitted instanceof Promise) {
      this.#awaitPermit(breaker, admitted);
      return true;
    }
    return this.#send(breaker, admitted, sync);
  }

  /** A half-open breaker asks its fleet for a trial permit: the try goes once it is granted, unless the caller gave up. */
  #awaitPermit(breaker: CircuitBreaker, admitted: Promise<CallPermit>): void {
    const signal = this.#signal;
    const unwatch = watchAbort(signal, () => this.#abortWait(abortReason(signal)));
    const cancel = (): void => unwatch();
    this.#cancelWait = cancel;
    admitted.then(
      (permit) => {
        if (this.#cancelWait !== cancel) return permit.ignore();
        this.#cancelWait = undefined;
        unwatch();
        this.#send(breaker, permit, false);
      },
      (error: unknown) => {
        if (this.#cancelWait !== cancel) return;
        this.#cancelWait = undefined;
        unwatch();
        this.#fail(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** Sends one try with its permit. */
  #send(breaker: CircuitBreaker, permit: CallPermit, sync: boolean): boolean {
    const attempt = new Attempt(this, this.#shared, breaker, permit);
    try {
      return this.#dispatch(this.#opts, attempt);
    } catch (error) {
      // The dispatcher refused the request outright: not the upstream's doing.
      permit.ignore();
      if (!sync) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
        return true;
      }
      this.#finish();
      throw error;
    }
  }

  /** The wait before the next try, or `undefined` when `error` is final. */
  #retryDelay(error: Error, breaker: CircuitBreaker): number | undefined {
    const retry = this.#retry;
    if (retry === undefined || !isRetryable(error)) return undefined;
    const state = breaker.state;
    if (state === 'forced-open') return undefined;
    // A retry the breaker would turn away is no retry: wait no longer than it stays open, or give up.
    const blockedMs = state === 'open' ? breaker.stats().retryAfterMs : 0;
    return retry.delayAfter(this.#attempt, retryAfterOf(error), blockedMs);
  }

  /** Waits `delay` ms on the clock, then tries again; the caller's abort ends the wait and the request. */
  #wait(delay: number): void {
    const clock = this.#shared.clock;
    const signal = this.#signal;
    let timer: TimerHandle | undefined;
    const unwatch = watchAbort(signal, () => this.#abortWait(abortReason(signal)));
    const proceed = (): void => {
      if (this.#cancelWait !== cancel) return;
      this.#cancelWait = undefined;
      unwatch();
      this.#try(false);
    };
    const cancel = (): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      unwatch();
    };
    this.#cancelWait = cancel;
    if ((signal as AbortSignal | undefined)?.aborted === true) return this.#abortWait(abortReason(signal));
    if (delay <= 0) queueMicrotask(proceed);
    else timer = clock.setTimeout(proceed, delay);
  }

  #abortWait(reason: Error): void {
    const cancel = this.#cancelWait;
    if (cancel === undefined) return;
    this.#cancelWait = undefined;
    cancel();
    this.#fail(reason);
  }

  /** Ends the request with `error`, without a try in flight. */
  #fail(error: Error): void {
    if (this.#done) return;
    this.#finish();
    const controller = this.#started && this.#relay !== undefined ? this.#relay : deadController(error);
    const handler = this.#handler;
    if (handler.onResponseError !== undefined) handler.onResponseError(controller, error);
    else (handler as { onError?: (error: Error) => void }).onError?.(error);
  }

  /** The request is over: its bulkhead slot goes back, once. */
  #finish(): void {
    this.#done = true;
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}

/** One try of a request: its breaker permit, its `callTimeout`, and its single outcome. */
class Attempt implements Handler {
  readonly breaker: CircuitBreaker;
  readonly #exchange: Exchange;
  readonly #shared: Shared;
  readonly #permit: CallPermit;
  #timer: TimerHandle | undefined;
  #settled = false;
  /** The response is being read and dropped, to send the request again. */
  #setAside = false;

  constructor(exchange: Exchange, shared: Shared, breaker: CircuitBreaker, permit: CallPermit) {
    this.#exchange = exchange;
    this.#shared = shared;
    this.breaker = breaker;
    this.#permit = permit;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    const { callTimeout, clock } = this.breaker.options;
    if (callTimeout !== undefined && !this.#settled) {
      // The deadline covers the wait for the response to start; bodies stream for as long as they need.
      this.#timer = clock.setTimeout(() => {
        this.#timer = undefined;
        controller.abort(new CallTimeoutError(this.breaker.name, callTimeout));
      }, callTimeout);
    }
    this.#exchange.requestStart(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: unknown): void {
    this.#settle(() => this.#permit.success());
    this.#exchange.upgrade(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Headers,
    statusMessage?: string,
  ): void {
    this.#clearTimer();
    let failed: boolean;
    try {
      failed = this.#shared.isFailure(statusCode);
    } catch {
      failed = statusCode >= 500;
    }
    const asksForPause = statusCode === 503 || statusCode === 429;
    const retryAfterMs = asksForPause
      ? parseRetryAfter(headers['retry-after'], this.breaker.options.clock.now())
      : undefined;
    let failure: UpstreamStatusError | undefined;
    // An upstream that names a time to come back is failing, whatever isFailure says of its status.
    if (failed || retryAfterMs !== undefined) {
      failure = new UpstreamStatusError(statusCode, retryAfterMs);
      const error = failure;
      this.#settle(() => this.#permit.failure(error));
    }
    this.#setAside = !this.#exchange.responseStart(
      this,
      controller,
      statusCode,
      headers,
      statusMessage,
      failure,
    );
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.#setAside) this.#exchange.responseData(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Headers): void {
    this.#settle(() => this.#permit.success());
    if (this.#setAside) this.#exchange.retrySetAside();
    else this.#exchange.responseEnd(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#settle(() => {
      if (error instanceof CallTimeoutError) this.#permit.failure(error);
      else if (this.#exchange.isCallerAbort(error) || isCallerMistake(error)) this.#permit.ignore();
      else this.#permit.failure(error);
    });
    this.#exchange.responseError(this, controller, error, this.#setAside);
  }

  #settle(record: () => void): void {
    this.#clearTimer();
    if (this.#settled) return;
    this.#settled = true;
    record();
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.breaker.options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** undici refused the request as the caller wrote it (a bad argument, an unsupported header): not the upstream's fault. */
function isCallerMistake(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED';
}
