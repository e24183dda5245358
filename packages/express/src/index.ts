import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import {
  HttpGuard,
  Rejection,
  markBreakerAnswer,
  observeResponse,
  timeoutAnswer,
  takeOver,
  type Entry,
  type FallbackInfo,
  type HttpAnswer,
  type HttpBreakerOptions,
} from '@breaker/core/http';

/** What the middleware puts on `req.breaker` for the handler. */
export interface RequestBreaker {
  /** Name of the breaker guarding this request. */
  name: string;
  /** Aborted at `callTimeout` or when the client hangs up: pass it to `fetch` and friends. */
  signal: AbortSignal;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `@breaker/express` on requests it admits. */
      breaker?: RequestBreaker;
    }
  }
}

/**
 * Answers in the handler's place: while open, while trial calls are busy, when the bulkhead is full, at the
 * deadline. Its `req` and `res` are Express's `Request` and `Response` wherever the middleware is used
 * (`app.use`, `app.use(path, …)`, a route, a `Router`), with the types of Express 4 or 5, whichever
 * `@types/express` the application has.
 */
export type ExpressFallback<Req extends IncomingMessage = Request, Res extends ServerResponse = Response> = (
  req: Req,
  res: Res,
  info: FallbackInfo,
) => unknown;

/** Options of {@link circuitBreaker}: the breaker's own, plus how to read requests and answer. */
export interface ExpressBreakerOptions<
  Req extends IncomingMessage = Request,
  Res extends ServerResponse = Response,
> extends HttpBreakerOptions<Req> {
  /** Answers instead of the 503 or 504 problem; if it throws, the problem answer goes out. */
  fallback?: ExpressFallback<Req, Res>;
}

/** An Express 4 or 5 middleware. */
export type ExpressMiddleware<
  Req extends IncomingMessage = Request,
  Res extends ServerResponse = Response,
> = (req: Req, res: Res, next: (error?: unknown) => void) => void;

/**
 * Guards the routes behind it with a circuit breaker (one per `key`), and with a bulkhead if asked.
 * While open or full it answers `503` with `Retry-After` and an RFC 9457 problem, or calls `fallback`,
 * without calling the handler.
 */
export function circuitBreaker<Req extends IncomingMessage = Request, Res extends ServerResponse = Response>(
  options?: ExpressBreakerOptions<Req, Res>,
): ExpressMiddleware<Req, Res> {
  const guard = new HttpGuard<Req>(options, 'circuitBreaker() from @breaker/express');
  const fallback = options?.fallback;
  const passErrors = guard.options.onReject === 'error';

  const proceed = (entry: Entry, req: Req, res: Res, next: (error?: unknown) => void): void => {
    // The client hung up while the request waited for a bulkhead slot: there is nobody to answer.
    if (entry === undefined) return;
    if (entry instanceof Rejection) {
      markBreakerAnswer(res);
      if (passErrors) return next(entry.httpError());
      if (fallback === undefined) return send(res, entry.answer());
      const info = entry.info();
      guard.fellBack(info);
      void runFallback(
        () => fallback(req, res, info),
        res,
        () => entry.answer(),
      );
      return;
    }
    const call = entry;
    (req as { breaker?: RequestBreaker }).breaker = call.info();
    observeResponse(res, call, noError);
    // Without a deadline there is nothing to arm: the request costs no extra closure.
    if (call.breaker.options.callTimeout === undefined) return next();
    call.startDeadline((error) => {
      // Once the answer has begun it is the handler's to finish; the breaker has counted the failure.
      if (res.headersSent) return call.abort(error);
      const breakerRes = takeOver(res);
      // The handler learns of the deadline only once the answer is out, so its reaction cannot race it.
      res.once('close', () => call.abort(error));
      const answer = (): HttpAnswer => timeoutAnswer(error);
      if (fallback === undefined) return send(breakerRes, answer());
      const info: FallbackInfo = { reason: 'timeout', breaker: call.breaker.name, retryAfterMs: 0, error };
      guard.fellBack(info);
      void runFallback(() => fallback(req, breakerRes, info), breakerRes, answer);
    });
    next();
  };

  return function circuitBreakerMiddleware(req, res, next) {
    const entry = guard.enter(req, res);
    if (entry instanceof Promise) {
      entry.then((settled) => proceed(settled, req, res, next)).catch(next);
      return;
    }
    proceed(entry, req, res, next);
  };
}

/** Express shows the middleware no error: one passed to next(err) counts through the status sent. */
const noError = (): undefined => undefined;

async function runFallback(
  fallback: () => unknown,
  res: ServerResponse,
  answer: () => HttpAnswer,
): Promise<void> {
  try {
    await fallback();
  } catch {
    send(res, answer());
  }
}

function send(res: ServerResponse, answer: HttpAnswer): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(answer.status, answer.headers).end(answer.body);
}

export type { FallbackInfo, FallbackReason, HttpOutcome, ProblemDetails } from '@breaker/core/http';

/**
 * The signal of the breaker guarding `req`: aborted at `callTimeout` or when the client hangs up. For a
 * handler behind {@link circuitBreaker}; throws a `TypeError` for a request no breaker admitted.
 */
export function breakerSignal(req: IncomingMessage): AbortSignal {
  const breaker = (req as { breaker?: RequestBreaker }).breaker;
  if (breaker === undefined) {
    throw new TypeError(
      'breakerSignal(req): this request has no breaker; call it in a handler behind circuitBreaker() from @breaker/express.',
    );
  }
  return breaker.signal;
}
