import { ServerResponse } from 'node:http';
import type { CallPermit, CircuitBreaker } from '../CircuitBreaker.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { BreakerOpenError, CallTimeoutError } from '../errors.js';
import { bulkhead as makeBulkhead, type BulkheadPolicy } from '../policies/BulkheadPolicy.js';
import { BulkheadRejectedError } from '../policies/BulkheadRejectedError.js';
import { KeyedCache, isBusy, takeSlot, type ReleaseSlot } from './bulkhead.js';
import type { BreakerRegistry } from '../registry.js';
import type { FallbackInfo, HttpBreakerOptions, HttpOutcome, ResolvedHttpOptions } from './options.js';
import { resolveHttpOptions } from './options.js';
import { Rejection } from './problem.js';

/**
 * The responses a breaker answered in the handler's place. A set beside the responses rather than a mark
 * on them: a property added to a response whose prototype Express has swapped costs microseconds. One
 * set for every copy of the package in the process, so that an outer breaker of another copy sees it.
 */
const answered: WeakSet<ServerResponse> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('@breaker/core/answered')
] ??= new WeakSet<ServerResponse>()) as WeakSet<ServerResponse>;

/** Has `bulkhead`'s rejections reported to `registry`'s listeners as `bulkhead-reject` of breaker `name`. */
export function noteRejections(
  bulkhead: BulkheadPolicy,
  registry: BreakerRegistry,
  name: string,
): BulkheadPolicy {
  bulkhead.on('reject', ({ error }) => registry.note('bulkhead-reject', { name, error }));
  return bulkhead;
}

/** Marks a response as a breaker's own rejection, so an outer breaker does not count it. */
export function markBreakerAnswer(res: ServerResponse): void {
  answered.add(res);
}

/** Whether a breaker answered this response in the handler's place. */
export function isBreakerAnswer(res: ServerResponse): boolean {
  return answered.has(res);
}

/**
 * What {@link HttpGuard.enter} makes of a request: admitted as a {@link RequestCall}, turned away as a
 * {@link Rejection}, or `undefined` when the client hung up while it waited in the bulkhead's queue
 * (there is nobody left to answer, and it counts neither way).
 */
export type Entry = RequestCall | Rejection | undefined;

/**
 * The per-request logic every HTTP adapter shares: picks the breaker, keeps the bulkhead, admits or
 * rejects, runs the deadline, and records one outcome per request. Adapters only read requests and
 * write responses.
 */
export class HttpGuard<Req> {
  readonly options: ResolvedHttpOptions<Req>;
  /** One bulkhead per breaker name, when the `bulkhead` option is set. */
  readonly bulkheads: KeyedCache<BulkheadPolicy> | undefined;

  constructor(options: (HttpBreakerOptions<Req> & { fallback?: unknown }) | undefined, context: string) {
    this.options = resolveHttpOptions(options, context);
    const limit = this.options.bulkhead;
    if (limit !== undefined) {
      const clock = this.options.breakerOptions.clock ?? systemClock;
      const registry = this.options.registry;
      this.bulkheads = new KeyedCache(
        registry.maxSize,
        (name) => noteRejections(makeBulkhead({ ...limit, name, clock }), registry, name),
        isBusy,
      );
    }
  }

  /** Reports a fallback answer to the registry's listeners (metrics, traces); the adapters call it. */
  fellBack(info: FallbackInfo): void {
    this.options.registry.note('fallback', { name: info.breaker, reason: info.reason });
  }

  /** The name of this request's breaker: `name`, or `name:key`. */
  nameFor(request: Req): string {
    const { name, key } = this.options;
    return key === undefined ? name : `${name}:${String(key(request))}`;
  }

  /**
   * The breaker for this request: its own, or the shared `name:__overflow__` while the registry is full of
   * breakers it cannot drop.
   */
  breakerFor(request: Req): CircuitBreaker {
    return this.#breaker(this.nameFor(request));
  }

  /**
   * Admits the request as a {@link RequestCall}, or returns why it was turned away. With a bulkhead and
   * no free slot, returns a promise settled once the request leaves the queue: admitted, turned away,
   * or `undefined` when the client hung up meanwhile (watched through `res`).
   */
  enter(request: Req, res: ServerResponse): Entry | Promise<Entry> {
    const name = this.nameFor(request);
    const bulkhead = this.bulkheads?.get(name);
    if (bulkhead === undefined) return this.#admit(name, res, undefined);
    const hangUp = new AbortController();
    const slot = takeSlot(bulkhead, hangUp.signal);
    if (typeof slot === 'function') return this.#admit(name, res, slot);
    const onClose = (): void => hangUp.abort(new ClientClosedError());
    res.once('close', onClose);
    return slot.then(
      (release) => {
        res.off('close', onClose);
        if (!hangUp.signal.aborted) return this.#admit(name, res, release);
        release();
        return undefined;
      },
      (error: unknown) => {
        res.off('close', onClose);
        return error instanceof BulkheadRejectedError ? new Rejection(error) : undefined;
      },
    );
  }

  #breaker(name: string): CircuitBreaker {
    const { registry, breakerOptions, name: group } = this.options;
    return registry.get(name, breakerOptions, group);
  }

  #admit(name: string, res: ServerResponse, release: ReleaseSlot | undefined): Entry | Promise<Entry> {
    let admitted: CallPermit | Promise<CallPermit>;
    let breaker: CircuitBreaker;
    try {
      breaker = this.#breaker(name);
      admitted = breaker.admit();
    } catch (error) {
      release?.();
      if (!(error instanceof BreakerOpenError)) throw error;
      return new Rejection(error);
    }
    if (!(admitted instanceof Promise))
      return new RequestCall(breaker, admitted, this.options.isFailure, res, release);
    // A half-open breaker asks its fleet for a trial permit; the client may hang up meanwhile.
    let hungUp = false;
    const onClose = (): void => {
      hungUp = true;
    };
    res.once('close', onClose);
    return admitted.then(
      (permit) => {
        res.off('close', onClose);
        if (!hungUp) return new RequestCall(breaker, permit, this.options.isFailure, res, release);
        permit.ignore();
        release?.();
        return undefined;
      },
      (error: unknown) => {
        res.off('close', onClose);
        release?.();
        if (!(error instanceof BreakerOpenError)) throw error;
        return hungUp ? undefined : new Rejection(error);
      },
    );
  }
}

/** One admitted request: its signal, its deadline, its single outcome and its bulkhead slot. */
export class RequestCall {
  readonly breaker: CircuitBreaker;
  readonly #permit: CallPermit;
  readonly #isFailure: (outcome: HttpOutcome) => boolean;
  readonly #res: ServerResponse | undefined;
  #release: ReleaseSlot | undefined;
  #controller: AbortController | undefined;
  /** Why the signal aborted, made when somebody reads the signal: until then nobody needs it. */
  #abortReason: (() => unknown) | undefined;
  #timer: TimerHandle | undefined;
  #settled = false;

  /** `res` and `release`: the response, and how to free the request's bulkhead slot, if it holds one. */
  constructor(
    breaker: CircuitBreaker,
    permit: CallPermit,
    isFailure: (outcome: HttpOutcome) => boolean,
    res?: ServerResponse,
    release?: ReleaseSlot,
  ) {
    this.breaker = breaker;
    this.#permit = permit;
    this.#isFailure = isFailure;
    this.#res = res;
    this.#release = release;
  }

  /**
   * Frees the request's bulkhead slot, if it holds one: when the response finishes, when the client
   * hangs up, or when the deadline answers. Calls after the first do nothing.
   */
  release(): void {
    const release = this.#release;
    if (release === undefined) return;
    this.#release = undefined;
    release();
  }

  /** Aborted when the deadline passes or the client hangs up; made on first use. */
  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller === undefined) {
      controller = this.#controller = new AbortController();
      const reason = this.#abortReason;
      this.#abortReason = undefined;
      if (reason !== undefined) controller.abort(reason());
    }
    return controller.signal;
  }

  /** A new view for the handler of this request's breaker: its name, and the signal, made only if read. */
  info(): { readonly name: string; readonly signal: AbortSignal } {
    return new RequestInfo(this);
  }

  /** Whether the outcome is recorded. */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Starts the `callTimeout` deadline, if the breaker has one. At the deadline the failure is
   * recorded and `onTimeout` answers the client; it then calls {@link RequestCall.abort}, once the
   * answer is out, so the handler's reaction to the abort cannot race the breaker's answer. A
   * deadline that answers frees the bulkhead slot; one that finds the answer begun leaves the slot
   * to the end of that answer.
   */
  startDeadline(onTimeout: (error: CallTimeoutError) => void): void {
    const { callTimeout, clock } = this.breaker.options;
    if (callTimeout === undefined) return;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      // Stryker disable next-line ConditionalExpression: settling clears this timer, so it never fires once settled
      if (this.#settled) return;
      const error = new CallTimeoutError(this.breaker.name, callTimeout);
      this.#settle();
      this.#permit.failure(error);
      const answers = this.#res?.headersSent !== true;
      onTimeout(error);
      if (answers) this.release();
    }, callTimeout);
  }

  /** Aborts the request's signal, now or, if nobody has read it yet, as it is made. */
  abort(reason: unknown): void {
    this.#abortLazily(() => reason);
  }

  #abortLazily(reason: () => unknown): void {
    if (this.#controller !== undefined) this.#controller.abort(reason());
    else this.#abortReason ??= reason;
  }

  /**
   * Records the request's outcome from the status sent (or the error thrown) and tells whether it
   * counted as a failure; later calls do nothing and return `false`.
   */
  finish(status: number, error?: unknown, answeredByBreaker = false): boolean {
    if (this.#settled) return false;
    this.#settle();
    // Another breaker's rejection says nothing about this route's upstream.
    if (answeredByBreaker) {
      this.#permit.ignore();
      return false;
    }
    let failed: boolean;
    try {
      failed = this.#isFailure(new Outcome(status, error, this.breaker.options.clock, this.#permit.start));
    } catch {
      failed = status >= 500;
    }
    if (failed) this.#permit.failure(error ?? statusError(status));
    else this.#permit.success();
    return failed;
  }

  /** The client went away before the answer: neither success nor failure, and the permit goes back. */
  hangUp(): void {
    if (this.#settled) return;
    this.#settle();
    this.#permit.ignore();
    // Most hang-ups go unread: the error, its stack and the controller are made only for a reader.
    this.#abortLazily(() => new ClientClosedError());
  }

  #settle(): void {
    this.#settled = true;
    // Stryker disable next-line ConditionalExpression: clearing no timer changes nothing a caller can see
    if (this.#timer !== undefined) {
      this.breaker.options.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

/**
 * What `isFailure` is told. The duration is read from the clock only if `isFailure` asks for it (the
 * default does not); a class, because an object literal with a getter costs about as much as the rest
 * of the request's bookkeeping together.
 */
class Outcome implements HttpOutcome {
  readonly status: number;
  readonly error: unknown;
  readonly #clock: Clock;
  readonly #start: number;

  constructor(status: number, error: unknown, clock: Clock, start: number) {
    this.status = status;
    this.error = error;
    this.#clock = clock;
    this.#start = start;
  }

  get durationMs(): number {
    return this.#clock.now() - this.#start;
  }
}

class RequestInfo {
  readonly name: string;
  readonly #call: RequestCall;

  constructor(call: RequestCall) {
    this.name = call.breaker.name;
    this.#call = call;
  }

  get signal(): AbortSignal {
    return this.#call.signal;
  }
}

/** Stands for a failing status when the framework shows no error. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  readonly status: number;

  constructor(status: number) {
    super(`The handler answered ${status}`);
    this.status = status;
  }
}

/** A failing status as an error, without a stack: it would only show the breaker's own frames. */
function statusError(status: number): HttpStatusError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new HttpStatusError(status);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The reason a request's signal aborts when the client hangs up. */
export class ClientClosedError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'BREAKER_CLIENT_CLOSED';

  constructor() {
    super('The client closed the connection before the answer');
  }
}

/**
 * Watches a response: `finish` records the status, a close before it counts as a hang-up; either
 * frees the bulkhead slot. Returns nothing to clean up: the listener goes with the response.
 */
export function observeResponse(res: ServerResponse, call: RequestCall, error: () => unknown): void {
  // A response emits 'close' after 'finish' too, so one listener tells an answer from a hang-up; it
  // closes once, so a plain listener does (no once-wrapper per request).
  res.on('close', () => {
    if (res.writableFinished) call.finish(res.statusCode, error(), isBreakerAnswer(res));
    else call.hangUp();
    call.release();
  });
}

const LOCKED = [
  'writeHead',
  'setHeader',
  'appendHeader',
  'removeHeader',
  'flushHeaders',
  'write',
  'end',
] as const;

/** The response whose breaker answer is running a write now, synchronously (see {@link takeOver}). */
let answering: ServerResponse | undefined;

/**
 * Takes a response away from a handler that missed its deadline: from now on its writes and header
 * changes are dropped instead of throwing or sending twice. Returns the response for the breaker's own
 * answer (a fallback, say): a view whose writes still go out, even after an `await`. Nothing here
 * reaches beyond this one response (no async context, no process-wide hook).
 */
export function takeOver<R extends ServerResponse>(res: R): R {
  // A write after the end emits 'error' on the response; with no listener that would crash the process.
  res.on('error', () => {});
  const target = res as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of LOCKED) {
    const original = target[method];
    if (typeof original !== 'function') continue;
    target[method] = function (this: ServerResponse, ...args: unknown[]) {
      if (answering === res) return original.apply(this, args);
      const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (method === 'end' && callback !== undefined) queueMicrotask(callback);
      return method === 'write' ? true : this;
    };
  }
  // The status too: a late `res.status(500)` must not change the breaker's answer before it is written.
  for (const field of ['statusCode', 'statusMessage'] as const) {
    let current: unknown = res[field];
    Object.defineProperty(res, field, {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (next: unknown) => {
        if (answering === res) current = next;
      },
    });
  }
  // Methods called through the view run with the response's writes open for as long as the call lasts.
  // Node's own methods run on the response itself (Node compares it with its socket's); the framework's
  // (`res.json`, `res.sendFile`, `res.render`) run on the view, so what they write later, from a callback
  // or a stream piped into `this`, is the breaker's answer too. One that returns the response returns the
  // view, so `res.status(503).json(...)` stays the breaker's.
  const wrappers = new Map<PropertyKey, (...args: unknown[]) => unknown>();
  const view: R = new Proxy(res, {
    get(response, property) {
      const value: unknown = Reflect.get(response, property, response);
      if (typeof value !== 'function' || property === 'constructor' || property === 'app') return value;
      const own = Object.getOwnPropertyDescriptor(response, property);
      if (own !== undefined && own.configurable === false && own.writable === false) return value;
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        const nodes = property in ServerResponse.prototype;
        wrapper = function (...args: unknown[]) {
          const previous = answering;
          answering = res;
          try {
            const method = Reflect.get(response, property, response) as (...a: unknown[]) => unknown;
            const result = method.apply(nodes ? response : view, args);
            return result === response ? view : result;
          } finally {
            answering = previous;
          }
        };
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
    set(response, property, value) {
      const previous = answering;
      answering = res;
      try {
        return Reflect.set(response, property, value, response);
      } finally {
        answering = previous;
      }
    },
  });
  return view;
}
