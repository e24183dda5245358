import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import Koa from 'koa';
import { circuitBreaker as expressBreaker, type ExpressBreakerOptions } from '@breaker/express';
import { circuitBreaker as koaBreaker, type KoaBreakerOptions } from '@breaker/koa';
import type { FallbackInfo } from '@breaker/core/http';

export type Framework = 'express5' | 'express4' | 'koa';
export const FRAMEWORKS: Framework[] = ['express5', 'express4', 'koa'];

/** What the guarded handler does, written once for every framework. */
export type Behaviour =
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'throw'; status?: number; message?: string }
  | { kind: 'pass-error'; status?: number; message?: string }
  | { kind: 'async-reject'; message?: string }
  | { kind: 'hang' }
  | { kind: 'gate'; gate: Promise<unknown>; status: number }
  | { kind: 'late'; afterMs: number; status: number }
  | { kind: 'upstream'; url: string }
  | { kind: 'upstream-uncaught'; url: string };

/** A fallback, written once: what to answer, or to throw. */
export type FallbackSpec = { status: number; throws?: boolean; delayMs?: number; bodyBytes?: number };

export interface AppOptions {
  framework: Framework;
  breaker: Record<string, unknown>;
  behaviour: (path: string) => Behaviour;
  fallback?: FallbackSpec;
  /** A second breaker in front of the first, to check nesting. */
  outer?: Record<string, unknown>;
  /** An app-level error handler that answers a breaker error itself (for onReject: 'error'). */
  errorHandler?: boolean;
}

export interface TestApp {
  url: string;
  server: Server;
  /** Resolves each time the handler is entered. */
  entered: () => Promise<void>;
  calls: number;
  fallbacks: FallbackInfo[];
  signals: AbortSignal[];
  close(): Promise<void>;
}

export async function startApp(options: AppOptions): Promise<TestApp> {
  const state = {
    calls: 0,
    fallbacks: [] as FallbackInfo[],
    signals: [] as AbortSignal[],
    waiters: [] as (() => void)[],
  };
  const onEnter = (signal: AbortSignal | undefined) => {
    state.calls++;
    if (signal) state.signals.push(signal);
    state.waiters.splice(0).forEach((resolve) => resolve());
  };
  const handler =
    options.framework === 'koa' ? koaApp(options, state, onEnter) : expressApp(options, state, onEnter);
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    entered: () => new Promise<void>((resolve) => state.waiters.push(resolve)),
    get calls() {
      return state.calls;
    },
    fallbacks: state.fallbacks,
    signals: state.signals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type State = { fallbacks: FallbackInfo[] };

function expressApp(options: AppOptions, state: State, onEnter: (signal?: AbortSignal) => void) {
  const express = (options.framework === 'express4' ? express4 : express5) as unknown as typeof express5;
  const app = express();
  const fallback: ExpressBreakerOptions['fallback'] = options.fallback
    ? async (_req, res, info) => {
        state.fallbacks.push(info);
        const spec = options.fallback!;
        if (spec.delayMs) await new Promise((resolve) => setTimeout(resolve, spec.delayMs));
        if (spec.throws) throw new Error('fallback broke');
        res.statusCode = spec.status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ fallback: info.reason, padding: 'x'.repeat(spec.bodyBytes ?? 0) }));
      }
    : undefined;
  if (options.outer) app.use(expressBreaker({ name: 'outer', ...options.outer }));
  app.use(expressBreaker({ ...options.breaker, ...(fallback ? { fallback } : {}) } as ExpressBreakerOptions));
  app.all(
    /.*/,
    (
      req: IncomingMessage & { breaker?: { signal: AbortSignal } },
      res: ServerResponse,
      next: (e?: unknown) => void,
    ) => {
      onEnter(req.breaker?.signal);
      const behaviour = options.behaviour(req.url ?? '/');
      const signal = req.breaker?.signal;
      switch (behaviour.kind) {
        case 'status':
          res.statusCode = behaviour.status;
          res.end(behaviour.body ?? 'handler');
          return;
        case 'throw':
          throw Object.assign(
            new Error(behaviour.message ?? 'secret upstream detail'),
            behaviour.status ? { status: behaviour.status } : {},
          );
        case 'pass-error':
          next(
            Object.assign(
              new Error(behaviour.message ?? 'secret upstream detail'),
              behaviour.status ? { status: behaviour.status } : {},
            ),
          );
          return;
        case 'async-reject':
          return Promise.reject(new Error(behaviour.message ?? 'secret upstream detail')) as unknown as void;
        case 'hang':
          return;
        case 'gate':
          void behaviour.gate.then(() => {
            if (res.headersSent) return;
            res.statusCode = behaviour.status;
            res.end('through the gate');
          });
          return;
        case 'late':
          setTimeout(() => {
            res.statusCode = behaviour.status;
            res.setHeader('x-late', 'yes');
            res.end('late answer');
          }, behaviour.afterMs);
          return;
        case 'upstream':
          void fetch(behaviour.url, { signal: signal ?? null })
            .then(async (upstream) => {
              res.statusCode = upstream.ok ? 200 : 502;
              res.end(upstream.ok ? await upstream.text() : 'bad gateway');
            })
            .catch(() => {
              if (!res.headersSent) {
                res.statusCode = 502;
                res.end('bad gateway');
              }
            });
          return;
      }
    },
  );
  app.use(
    (
      error: { status?: number; headers?: Record<string, string>; message: string },
      _req: IncomingMessage,
      res: ServerResponse,
      next: (e?: unknown) => void,
    ) => {
      if (!options.errorHandler) return next(error);
      res.statusCode = error.status ?? 500;
      for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
      res.end(`app error handler: ${res.statusCode}`);
    },
  );
  return app as unknown as (req: IncomingMessage, res: ServerResponse) => void;
}

function koaApp(options: AppOptions, state: State, onEnter: (signal?: AbortSignal) => void) {
  const app = new Koa();
  app.silent = true;
  app.on('error', () => {});
  if (options.errorHandler) {
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        const e = error as { status?: number; headers?: Record<string, string> };
        ctx.status = e.status ?? 500;
        ctx.set(e.headers ?? {});
        ctx.body = `app error handler: ${ctx.status}`;
      }
    });
  }
  const fallback: KoaBreakerOptions['fallback'] = options.fallback
    ? async (ctx, info) => {
        state.fallbacks.push(info);
        const spec = options.fallback!;
        if (spec.delayMs) await new Promise((resolve) => setTimeout(resolve, spec.delayMs));
        if (spec.throws) throw new Error('fallback broke');
        ctx.status = spec.status;
        ctx.body = { fallback: info.reason, padding: 'x'.repeat(spec.bodyBytes ?? 0) };
      }
    : undefined;
  if (options.outer) app.use(koaBreaker({ name: 'outer', ...options.outer }));
  app.use(koaBreaker({ ...options.breaker, ...(fallback ? { fallback } : {}) } as KoaBreakerOptions));
  app.use(async (ctx) => {
    const signal = (ctx.state.breaker as { signal: AbortSignal } | undefined)?.signal;
    onEnter(signal);
    const behaviour = options.behaviour(ctx.url);
    switch (behaviour.kind) {
      case 'status':
        ctx.status = behaviour.status;
        ctx.body = behaviour.body ?? 'handler';
        return;
      case 'throw':
      case 'pass-error':
        if (behaviour.status) ctx.throw(behaviour.status, behaviour.message ?? 'secret upstream detail');
        throw new Error(behaviour.message ?? 'secret upstream detail');
      case 'async-reject':
        await Promise.resolve();
        throw new Error(behaviour.message ?? 'secret upstream detail');
      case 'hang':
        await new Promise(() => {});
        return;
      case 'gate':
        await behaviour.gate;
        ctx.status = behaviour.status;
        ctx.body = 'through the gate';
        return;
      case 'late':
        await new Promise((resolve) => setTimeout(resolve, behaviour.afterMs));
        ctx.status = behaviour.status;
        ctx.set('x-late', 'yes');
        ctx.body = 'late answer';
        ctx.res.write('late raw write');
        return;
      case 'upstream-uncaught': {
        const upstream = await fetch(behaviour.url, { signal: signal ?? null });
        ctx.status = upstream.status;
        ctx.body = await upstream.text();
        return;
      }
      case 'upstream':
        try {
          const upstream = await fetch(behaviour.url, { signal: signal ?? null });
          ctx.status = upstream.ok ? 200 : 502;
          ctx.body = upstream.ok ? await upstream.text() : 'bad gateway';
        } catch {
          ctx.status = 502;
          ctx.body = 'bad gateway';
        }
        return;
    }
  });
  return app.callback();
}

/** A promise the test resolves when it chooses: a handler waits on it to hold its request open. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Waits, polling every 5 ms for at most `timeoutMs`, until `condition` holds; false if it never did. */
export async function until(condition: () => boolean, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** A real upstream on loopback whose behaviour the test switches. */
export async function startUpstream() {
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang', requests: 0, aborted: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    req.on('close', () => {
      if (!res.writableFinished) state.aborted++;
    });
    if (state.mode === 'ok') res.end('partner data');
    else if (state.mode === 'fail') {
      res.statusCode = 500;
      res.end('partner stack trace: secret upstream detail');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/data`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
