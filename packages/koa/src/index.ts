import type { Context, DefaultContext, DefaultState, Middleware, Next, ParameterizedContext } from 'koa';
import type { CallTimeoutError } from '@breaker/core';
import {
  HttpGuard,
  Rejection,
  isBreakerAnswer,
  markBreakerAnswer,
  observeResponse,
  timeoutAnswer,
  takeOver,
  type Entry,
  type FallbackInfo,
  type HttpAnswer,
  type HttpBreakerOptions,
  type RequestCall,
} from '@breaker/core/http';

/** What the middleware puts on `ctx.state.breaker` for the handler. */
export interface RequestBreaker {
  /** Name of the breaker guarding this request. */
  name: string;
  /** Aborted at `callTimeout` or when the client hangs up: pass it to `fetch` and friends. */
  signal: AbortSignal;
}

/**
 * Answers in the handler's place: while open, while trial calls are busy, when the bulkhead is full, at the
 * deadline, or on an error. Its `ctx` carries the application's own state and context types.
 */
export type KoaFallback<StateT = DefaultState, ContextT = DefaultContext> = (
  ctx: ParameterizedContext<StateT, ContextT>,
  info: FallbackInfo,
) => unknown;

/** Options of {@link circuitBreaker}: the breaker's own, plus how to read requests and answer. */
export interface KoaBreakerOptions<
  StateT = DefaultState,
  ContextT = DefaultContext,
> extends HttpBreakerOptions<ParameterizedContext<StateT, ContextT>> {
  /** Answers instead of the 503 or 504 problem, or of a failing handler's error; if it throws, the problem answer goes out. */
  fallback?: KoaFallback<StateT, ContextT>;
}

/**
 * Guards the middleware downstream with a circuit breaker (one per `key`), and with a bulkhead if asked.
 * While open or full it answers `503` with `Retry-After` and an RFC 9457 problem, or calls `fallback`,
 * without calling `next`.
 */
export function circuitBreaker<StateT = DefaultState, ContextT = DefaultContext>(
  options?: KoaBreakerOptions<StateT, ContextT>,
): Middleware<StateT, ContextT> {
  // The application's own state and context types reach its callbacks; inside, any Koa context will do.
  const guard = new HttpGuard<Context>(
    options as KoaBreakerOptions | undefined,
    'circuitBreaker() from @breaker/koa',
  );
  const fallback = options?.fallback as KoaFallback | undefined;
  const passErrors = guard.options.onReject === 'error';

  // The common path (admitted, no deadline) is plain promise reactions: no async function, no await.
  const handle = (entry: Entry, ctx: Context, next: Next): Promise<void> => {
    // The client hung up while the request waited for a bulkhead slot: there is nobody to answer.
    if (entry === undefined) return DONE;
    if (entry instanceof Rejection) {
      markBreakerAnswer(ctx.res);
      if (passErrors) return Promise.reject(entry.httpError());
      if (fallback === undefined) return respond(ctx, entry.answer());
      return runFallback(guard, ctx, fallback, entry.info(), () => respond(ctx, entry.answer()));
    }
    const call = entry;
    ctx.state.breaker = call.info() satisfies RequestBreaker;
    let thrown: unknown;
    observeResponse(ctx.res, call, () => thrown);
    const failed = (error: unknown): Promise<void> => {
      thrown = error;
      const counted = call.finish(statusOf(error), error, isBreakerAnswer(ctx.res));
      if (fallback === undefined || ctx.headerSent || !counted) return Promise.reject(error);
      // The error is answered here, but the app still hears of it, as Koa reports any error.
      ctx.app.emit('error', error, ctx);
      const info: FallbackInfo = { reason: 'error', breaker: call.breaker.name, retryAfterMs: 0, error };
      // A fallback that fails too leaves the error to Koa's own handling.
      return runFallback(guard, ctx, fallback, info, () => {
        throw error;
      });
    };
    if (call.breaker.options.callTimeout === undefined) return next().then(undefined, failed);
    return withDeadline(call, ctx, next, failed);
  };

  const withDeadline = async (
    call: RequestCall,
    ctx: Context,
    next: Next,
    failed: (error: unknown) => Promise<void>,
  ): Promise<void> => {
    const deadline = new Promise<CallTimeoutError>((resolve) => call.startDeadline(resolve));
    const downstream = next();
    let timeout: CallTimeoutError | undefined;
    try {
      timeout = await Promise.race([downstream.then(() => undefined), deadline]);
    } catch (error) {
      return failed(error);
    }
    if (timeout === undefined) return;
    // The handler runs on; what it does later must neither throw nor reach the client.
    downstream.catch(() => {});
    if (ctx.headerSent) return call.abort(timeout);
    // Koa writes the answer after this middleware returns; from then on the handler is shut out, and
    // it learns of the deadline only once the answer is out, so its reaction cannot race it.
    ctx.res.once('finish', () => takeOver(ctx.res));
    ctx.res.once('close', () => call.abort(timeout));
    const answer = timeoutAnswer(timeout);
    if (fallback === undefined) return respond(ctx, answer);
    const info: FallbackInfo = {
      reason: 'timeout',
      breaker: call.breaker.name,
      retryAfterMs: 0,
      error: timeout,
    };
    return runFallback(guard, ctx, fallback, info, () => respond(ctx, answer));
  };

  return function circuitBreakerMiddleware(ctx: Context, next: Next): Promise<void> {
    let pending: Entry | Promise<Entry>;
    try {
      pending = guard.enter(ctx, ctx.res);
    } catch (error) {
      return Promise.reject(error);
    }
    if (pending instanceof Promise) return pending.then((entry) => handle(entry, ctx, next));
    return handle(pending, ctx, next);
  };
}

const DONE: Promise<void> = Promise.resolve();

function statusOf(error: unknown): number {
  const status =
    (error as { status?: unknown; statusCode?: unknown } | null)?.status ??
    (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
}

async function runFallback(
  guard: HttpGuard<Context>,
  ctx: Context,
  fallback: KoaFallback,
  info: FallbackInfo,
  onFailure: () => void,
): Promise<void> {
  guard.fellBack(info);
  try {
    await fallback(ctx, info);
  } catch {
    onFailure();
  }
}

function respond(ctx: Context, answer: HttpAnswer): Promise<void> {
  if (ctx.headerSent) return DONE;
  ctx.status = answer.status;
  ctx.set(answer.headers);
  ctx.body = answer.body;
  return DONE;
}

export type { FallbackInfo, FallbackReason, HttpOutcome, ProblemDetails } from '@breaker/core/http';
