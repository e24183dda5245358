import type { Dispatcher } from 'undici';
import {
  BreakerOpenError,
  BreakerRegistry,
  CallTimeoutError,
  InvalidOptionError,
  resolveOptions,
  type BreakerOptions,
  type CallPermit,
  type CircuitBreaker,
  type TimerHandle,
} from '@breaker/core';
import { describeValue as describe, parseRetryAfter } from '@breaker/core/http';

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
const OWN_KEYS = ['name', 'key', 'isFailure', 'registry', 'maxKeys'];

/** The breakers behind an interceptor, for tests, metrics and health checks. */
export interface BreakerInterceptor extends Dispatcher.DispatcherComposeInterceptor {
  readonly registry: BreakerRegistry;
}

/**
 * An interceptor for `Agent.compose` / `Dispatcher.compose`: one breaker per origin (or `key`).
 * While a breaker is open its requests fail at once with `BreakerOpenError`, without a socket.
 */
export function circuitBreaker(options: InterceptorOptions = {}): BreakerInterceptor {
  return createInterceptor(options, CONTEXT, OWN_KEYS);
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
  const { name, key, isFailure = defaultIsFailure, registry: given, maxKeys, ...breakerOptions } = options;
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
  resolveOptions({ ...breakerOptions, name: name ?? 'upstream' }, context, knownKeys);
  const registry = given ?? new BreakerRegistry({ maxSize: maxKeys ?? 1_000 });

  const breakerFor = (opts: Dispatcher.DispatchOptions): CircuitBreaker => {
    const value = key === undefined ? originOf(opts.origin) : String(key(opts));
    return registry.get(name === undefined ? value : `${name}:${value}`, breakerOptions);
  };

  const interceptor = (dispatch: Dispatcher['dispatch']): Dispatcher['dispatch'] =>
    function breakerInterceptor(opts, handler) {
      const breaker = breakerFor(opts);
      let permit: CallPermit;
      try {
        permit = breaker.acquire();
      } catch (error) {
        if (!(error instanceof BreakerOpenError)) throw error;
        // Answer asynchronously, as a dispatcher would: callers expect dispatch to return first.
        queueMicrotask(() => failWithoutDispatch(handler, error));
        return true;
      }
      return dispatch(
        opts,
        new BreakerHandler(handler, breaker, permit, isFailure, (opts as { signal?: unknown }).signal),
      );
    };
  return Object.assign(interceptor, { registry });
}

function defaultIsFailure(status: number): boolean {
  return status >= 500;
}

function originOf(origin: Dispatcher.DispatchOptions['origin']): string {
  if (origin === undefined) return 'unknown';
  return typeof origin === 'string' ? new URL(origin).origin : origin.origin;
}

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

function failWithoutDispatch(handler: Handler, error: BreakerOpenError): void {
  const controller: Controller = {
    aborted: true,
    paused: false,
    reason: error,
    abort() {},
    pause() {},
    resume() {},
  };
  if (handler.onResponseError !== undefined) handler.onResponseError(controller, error);
  else (handler as { onError?: (error: Error) => void }).onError?.(error);
}

/** Watches one request on its way through, and records one outcome for it. */
class BreakerHandler implements Handler {
  readonly #handler: Handler;
  readonly #breaker: CircuitBreaker;
  readonly #permit: CallPermit;
  readonly #isFailure: (status: number) => boolean;
  readonly #signal: unknown;
  #timer: TimerHandle | undefined;
  #settled = false;

  constructor(
    handler: Handler,
    breaker: CircuitBreaker,
    permit: CallPermit,
    isFailure: (status: number) => boolean,
    signal: unknown,
  ) {
    this.#handler = handler;
    this.#breaker = breaker;
    this.#permit = permit;
    this.#isFailure = isFailure;
    this.#signal = signal;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    const { callTimeout, clock } = this.#breaker.options;
    if (callTimeout !== undefined && !this.#settled) {
      // The deadline covers the wait for the response to start; bodies stream for as long as they need.
      this.#timer = clock.setTimeout(() => {
        this.#timer = undefined;
        controller.abort(new CallTimeoutError(this.#breaker.name, callTimeout));
      }, callTimeout);
    }
    this.#handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[]>,
    socket: unknown,
  ): void {
    this.#settle(() => this.#permit.success());
    (this.#handler.onRequestUpgrade as ((...args: unknown[]) => void) | undefined)?.(
      controller,
      statusCode,
      headers,
      socket,
    );
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    this.#clearTimer();
    let failed: boolean;
    try {
      failed = this.#isFailure(statusCode);
    } catch {
      failed = statusCode >= 500;
    }
    const asksForPause = statusCode === 503 || statusCode === 429;
    const retryAfterMs = asksForPause
      ? parseRetryAfter(headers['retry-after'], this.#breaker.options.clock.now())
      : undefined;
    // An upstream that names a time to come back is failing, whatever isFailure says of its status.
    if (failed || retryAfterMs !== undefined) {
      this.#settle(() => this.#permit.failure(new UpstreamStatusError(statusCode, retryAfterMs)));
    }
    (this.#handler.onResponseStart as ((...args: unknown[]) => void) | undefined)?.(
      controller,
      statusCode,
      headers,
      statusMessage,
    );
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Record<string, string | string[] | undefined>): void {
    this.#settle(() => this.#permit.success());
    (this.#handler.onResponseEnd as ((...args: unknown[]) => void) | undefined)?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#settle(() => {
      if (error instanceof CallTimeoutError) this.#permit.failure(error);
      else if (isCallerAbort(error, this.#signal)) this.#permit.ignore();
      else this.#permit.failure(error);
    });
    this.#handler.onResponseError?.(controller, error);
  }

  #settle(record: () => void): void {
    this.#clearTimer();
    if (this.#settled) return;
    this.#settled = true;
    record();
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#breaker.options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function isCallerAbort(error: Error, signal: unknown): boolean {
  if ((signal as AbortSignal | undefined)?.aborted === true) return true;
  const code = (error as { code?: unknown }).code;
  return error.name === 'AbortError' || code === 'UND_ERR_ABORTED';
}
