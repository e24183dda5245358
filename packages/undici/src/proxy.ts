import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { CallTimeoutError, InvalidOptionError, resolveOptions, systemClock } from '@breaker/core';
import {
  ClientClosedError,
  Rejection,
  describeValue as describe,
  markBreakerAnswer,
  type FallbackInfo,
  type HttpAnswer,
} from '@breaker/core/http';
import { createInterceptor, type BreakerInterceptor, type InterceptorOptions } from './interceptor.js';
import { ProxyAnswers, badPath } from './answers.js';
import { forwardedHeaders, responseHeaders } from './headers.js';
import { upstreamPath } from './path.js';
import { relay } from './relay.js';

/** Options of {@link proxy}: where to send requests, and the breaker in front of it. */
export interface ProxyOptions extends Omit<InterceptorOptions, 'key'> {
  /** The partner's base URL; every request goes under its path, whatever the client sends. */
  target: string | URL;
  /**
   * Prefix of the breaker's name (`name:origin` in events, metrics and the dashboard), and the only name
   * clients see in the proxy's answers (default `upstream`): the partner's origin is never shown to them.
   */
  name?: string;
  /** The dispatcher to send through (default a new `Agent`); the breaker is composed onto it. */
  dispatcher?: Dispatcher;
  /**
   * Keep incoming `X-Forwarded-*`, `Forwarded` and client-IP headers (`X-Real-IP`, `True-Client-IP`...)
   * and append to them (only behind a proxy you trust); default false, which drops them.
   */
  trustProxy?: boolean;
  /**
   * Answers instead of the 503 problem while the breaker is open or the bulkhead is full (`info.reason`
   * `open`, `half-open-busy` or `bulkhead-full`); if it throws, the problem goes out.
   */
  fallback?: (req: IncomingMessage, res: ServerResponse, info: FallbackInfo) => unknown;
}

/** A request handler for Express (`app.use('/partner', proxy(...))`) or a plain `node:http` server. */
export interface ProxyHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void>;
  /** The breakers behind the proxy. */
  readonly interceptor: BreakerInterceptor;
}

const CONTEXT = 'proxy() from @breaker/undici';
/** The longest a partner's status waits for the first chunk of its body. */
const HEADER_HOLD_MS = 1_000;
/** The name clients see when the proxy was given none. */
const PUBLIC_NAME = 'upstream';

/**
 * Streams each request to a fixed partner origin and the answer back, through a circuit breaker.
 * Hop-by-hop and unvouched client-IP headers are dropped, `X-Forwarded-*` set, and the path kept
 * under the target's.
 */
export function proxy(options: ProxyOptions): ProxyHandler {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'options',
      `${CONTEXT} needs options with a \`target\`; received ${describe(options)}.`,
    );
  }
  const { target, dispatcher, trustProxy = false, fallback, ...breakerOptions } = options;
  const base = parseTarget(target);
  if (dispatcher !== undefined && typeof (dispatcher as Dispatcher).dispatch !== 'function') {
    throw invalid('dispatcher', 'an undici Dispatcher', dispatcher);
  }
  if (typeof trustProxy !== 'boolean') throw invalid('trustProxy', 'true or false', trustProxy);
  if (fallback !== undefined && typeof fallback !== 'function')
    throw invalid('fallback', 'a function', fallback);
  if ((breakerOptions as InterceptorOptions).key !== undefined) {
    // Paths come from clients: a breaker per path would let them create breakers at will.
    throw new InvalidOptionError(
      'key',
      `Unsupported ${CONTEXT} option "key": a proxy keeps one breaker for its target, so that request ` +
        'paths, which clients choose, cannot create breakers. For a breaker per route, mount one proxy() ' +
        'per route, each with its own `name`.',
    );
  }
  const interceptor = createInterceptor(breakerOptions, CONTEXT, [
    'target',
    'dispatcher',
    'trustProxy',
    'fallback',
    'name',
    'isFailure',
    'registry',
    'maxKeys',
    'bulkhead',
    'retry',
  ]);
  const { timeout, maxTimeout, callTimeout, clock = systemClock } = breakerOptions;
  const { maxTimeout: longestOpen } = resolveOptions(
    {
      ...(timeout === undefined ? {} : { timeout }),
      ...(maxTimeout === undefined ? {} : { maxTimeout }),
    },
    CONTEXT,
  );
  const answers = new ProxyAnswers(breakerOptions.name ?? PUBLIC_NAME, longestOpen);
  const guarded = (dispatcher ?? new Agent()).compose(interceptor);

  const forward = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    signal: HangUp,
  ): Promise<void> => {
    const started = clock.now();
    const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await guarded.request({
        origin: base.origin,
        path,
        method,
        headers: forwardedHeaders(req, base, trustProxy),
        // A request without a body sends none, so that it can be retried; a body is streamed, never replayed.
        body: hasBody(req, method) ? req : null,
        signal,
      });
    } catch (error) {
      if (signal.aborted && !(error instanceof CallTimeoutError)) return;
      const rejection = Rejection.of(error);
      if (rejection !== undefined) return answerRejection(req, res, rejection, answers, fallback);
      return send(res, answers.unavailable(error));
    }
    const { statusCode: status, headers, body } = upstream;
    if (status >= 500) {
      // The partner's error text stays between the partner and the gateway.
      await body.dump().catch(() => {});
      return send(res, answers.partnerFailed(status, headers['retry-after'], clock.now()));
    }
    const retryAfter = (value: string | string[] | undefined): string | undefined =>
      answers.retryAfter(value, clock.now());
    // The status waits for the body's first chunk, at most a second and no longer than the call's
    // deadline allows; an event stream's status goes at once, as its first event may be long in coming.
    const left = callTimeout === undefined ? HEADER_HOLD_MS : started + callTimeout - clock.now();
    const stream = /^\s*text\/event-stream/i.test(String(headers['content-type'] ?? ''));
    const holdMs = stream ? 0 : Math.max(0, Math.min(HEADER_HOLD_MS, left));
    const early = await relay({ status, headers: responseHeaders(headers, retryAfter), body }, res, {
      clock,
      ms: holdMs,
    });
    if (early !== undefined && !signal.aborted) send(res, answers.unavailable(early.error));
  };

  const handler = async function proxyHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = upstreamPath(base.pathname, req.url ?? '/');
    if (path === undefined) return send(res, badPath());
    const hangUp = new HangUp();
    const onClose = (): void => {
      if (!res.writableFinished) hangUp.abort(new ClientClosedError());
    };
    res.once('close', onClose);
    try {
      await forward(req, res, path, hangUp);
    } finally {
      res.off('close', onClose);
    }
  };
  return Object.assign(handler, { interceptor });
}

/** The same proxy as Koa middleware: it answers the request itself. */
export function koaProxy(
  options: ProxyOptions,
): ((ctx: KoaLike) => Promise<void>) & { interceptor: BreakerInterceptor } {
  const handle = proxy(options);
  const middleware = async function koaProxyMiddleware(ctx: KoaLike): Promise<void> {
    ctx.respond = false;
    await handle(ctx.req, ctx.res);
  };
  return Object.assign(middleware, { interceptor: handle.interceptor });
}

/** The parts of a Koa context the proxy uses. */
export interface KoaLike {
  req: IncomingMessage;
  res: ServerResponse;
  respond?: boolean;
}

function parseTarget(target: unknown): URL {
  let url: URL;
  try {
    url = new URL(String(target instanceof URL ? target.href : target));
  } catch {
    throw invalid('target', 'an absolute http(s) URL', target);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || typeof target === 'undefined') {
    throw invalid('target', 'an absolute http(s) URL', target);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalid('target', 'a URL without query, fragment or credentials', url.origin + url.pathname);
  }
  return url;
}

function invalid(option: string, allowed: string, received: unknown): InvalidOptionError {
  return new InvalidOptionError(
    option,
    `Invalid ${CONTEXT} option "${option}": expected ${allowed}; received ${describe(received)}.`,
  );
}

/** Whether a client's request carries a body: HTTP/1.1 says so only through these two headers. */
function hasBody(req: IncomingMessage, method: string): boolean {
  if (method === 'GET' || method === 'HEAD') return false;
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

/** The breaker is open or the bulkhead full: the 503 problem, or the fallback. */
async function answerRejection(
  req: IncomingMessage,
  res: ServerResponse,
  rejection: Rejection,
  answers: ProxyAnswers,
  fallback: ProxyOptions['fallback'],
): Promise<void> {
  markBreakerAnswer(res);
  if (fallback === undefined) return send(res, answers.rejected(rejection));
  try {
    await fallback(req, res, rejection.info());
  } catch {
    send(res, answers.rejected(rejection));
  }
}

function send(res: ServerResponse, answer: HttpAnswer): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  res.writeHead(answer.status, answer.headers).end(answer.body);
}

export type { IncomingHttpHeaders };

/**
 * The client's hang-up, as the partner request's signal. undici takes an EventEmitter with `aborted` and
 * `reason` as a signal; one costs far less per request than an AbortController and its AbortSignal.
 */
class HangUp extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}
