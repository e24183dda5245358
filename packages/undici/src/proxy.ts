import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent, type Dispatcher } from 'undici';
import { CallTimeoutError, InvalidOptionError } from '@breaker/core';
import {
  ClientClosedError,
  Rejection,
  describeValue as describe,
  markBreakerAnswer,
  parseRetryAfter,
  retryAfterSeconds,
  type FallbackInfo,
  type HttpAnswer,
} from '@breaker/core/http';
import { createInterceptor, type BreakerInterceptor, type InterceptorOptions } from './interceptor.js';
import { forwardedHeaders, responseHeaders } from './headers.js';
import { upstreamPath } from './path.js';

/** Options of {@link proxy}: where to send requests, and the breaker in front of it. */
export interface ProxyOptions extends Omit<InterceptorOptions, 'key'> {
  /** The partner's base URL; every request goes under its path, whatever the client sends. */
  target: string | URL;
  /** The dispatcher to send through (default a new `Agent`); the breaker is composed onto it. */
  dispatcher?: Dispatcher;
  /** Keep incoming `X-Forwarded-*` and append to them (only behind a proxy you trust); default false. */
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

/**
 * Streams each request to a fixed partner origin and the answer back, through a circuit breaker.
 * Hop-by-hop headers are dropped, `X-Forwarded-*` set, and the path kept under the target's.
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
  const guarded = (dispatcher ?? new Agent()).compose(interceptor);

  const handler = async function proxyHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = upstreamPath(base.pathname, req.url ?? '/');
    if (path === undefined) return send(res, badPath());
    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort(new ClientClosedError());
    };
    res.once('close', onClose);
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
        signal: controller.signal,
      });
    } catch (error) {
      res.off('close', onClose);
      if (controller.signal.aborted && !(error instanceof CallTimeoutError)) return;
      const rejection = Rejection.of(error);
      if (rejection !== undefined) return answerRejection(req, res, rejection, fallback);
      return send(res, upstreamFailure(error));
    }
    if (upstream.statusCode >= 500) {
      // The partner's error text stays between the partner and the gateway.
      res.off('close', onClose);
      await upstream.body.dump().catch(() => {});
      return send(res, partnerError(upstream));
    }
    res.writeHead(upstream.statusCode, responseHeaders(upstream.headers));
    try {
      await pipeline(upstream.body, res);
    } catch {
      // The partner failed mid-body (the breaker counted it) or the client left: end the client's side.
      res.destroy();
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
  fallback: ProxyOptions['fallback'],
): Promise<void> {
  markBreakerAnswer(res);
  if (fallback === undefined) return send(res, rejection.answer());
  try {
    await fallback(req, res, rejection.info());
  } catch {
    send(res, rejection.answer());
  }
}

function upstreamFailure(error: unknown): HttpAnswer {
  const timedOut = error instanceof CallTimeoutError;
  const status = timedOut ? 504 : 502;
  return problem(
    status,
    timedOut ? 'Upstream timed out' : 'Upstream unavailable',
    timedOut
      ? `The partner did not answer within ${error.timeoutMs} ms.`
      : 'The partner could not be reached or failed before answering.',
  );
}

function partnerError(upstream: Dispatcher.ResponseData): HttpAnswer {
  const answer = problem(502, 'Upstream failed', `The partner answered ${upstream.statusCode}.`);
  const retryAfterMs = parseRetryAfter(upstream.headers['retry-after'], Date.now());
  if (retryAfterMs !== undefined) answer.headers['retry-after'] = String(retryAfterSeconds(retryAfterMs));
  return answer;
}

function badPath(): HttpAnswer {
  return problem(400, 'Bad request path', 'The request path is not allowed through this proxy.');
}

function problem(status: number, title: string, detail: string): HttpAnswer {
  return {
    status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify({ type: 'about:blank', title, status, detail }),
  };
}

function send(res: ServerResponse, answer: HttpAnswer): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  res.writeHead(answer.status, answer.headers).end(answer.body);
}

export type { IncomingHttpHeaders };
