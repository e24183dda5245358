import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Script } from 'node:vm';
import express from 'express';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry, InvalidOptionError, type CircuitBreaker } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { dashboard, koaDashboard, type DashboardHandler, type DashboardOptions } from '@breaker/dashboard';
import { readEvents, type EventReader } from './sse.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function track(server: Server): void {
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

interface Started {
  url: string;
  handler: DashboardHandler;
  registry: BreakerRegistry;
  clock: ManualClock;
  errors: unknown[];
}

async function startExpress(options: Partial<DashboardOptions<IncomingMessage>> = {}): Promise<Started> {
  const clock = new ManualClock();
  const registry = new BreakerRegistry({ defaults: { failureThreshold: 2, timeout: 10_000, clock } });
  const handler = dashboard({ registry, clock, ...options });
  const errors: unknown[] = [];
  const app = express();
  app.use('/breakers', handler);
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    errors.push(error);
    res.status(500).json({ error: 'handled by the app' });
  });
  const server = http.createServer(app);
  track(server);
  cleanups.push(() => handler.close());
  return { url: `${await listen(server)}/breakers`, handler, registry, clock, errors };
}

async function open(url: string): Promise<EventReader> {
  const reader = await readEvents(`${url}/events`);
  cleanups.push(() => reader.close());
  return reader;
}

/** Waits, a few milliseconds at a time, for `condition`; gives up after a second. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

/** What `fn` throws, or `undefined`. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

const fail = (breaker: CircuitBreaker) =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});

/** Whether an emitter of @breaker/core has a listener for `event` (its protected `listens`). */
const listens = (emitter: object, event: string): boolean =>
  (emitter as unknown as { listens(name: string): boolean }).listens(event);

interface WireView {
  name: string;
  state: string;
  failureRate: number;
  callsPerSecond: number;
  halfOpenInMs: number | null;
  transitions: { from: string; to: string; reason: string }[];
  history?: number[][];
  point?: number[];
}
const breakersOf = (data: unknown) => (data as { breakers: WireView[] }).breakers;

describe('dashboard()', () => {
  it('serves one self-contained page with a strict Content-Security-Policy', async () => {
    const { url } = await startExpress();
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    // No inline script, nothing from another origin, and the inline style allowed by its hash only.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).toContain('<script src="app.js" defer></script>');
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(html).toContain('data-admin="false"');
    expect(html).not.toContain('Actions');

    const script = await fetch(`${url}/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    expect(script.headers.get('cache-control')).toBe('no-store');
    const code = await script.text();
    expect(() => new Script(code)).not.toThrow();
    expect(code).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('redirects its mount path to the path with a trailing slash, so relative links work', async () => {
    const { url } = await startExpress();
    const res = await fetch(`${url}?tab=1`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/breakers/?tab=1');
    expect((await fetch(`${url}/nothing-here`)).status).toBe(404);
    expect((await fetch(`${url}/`, { method: 'DELETE' })).status).toBe(405);
  });

  it('streams a snapshot, every state change as it happens, and an update every second', async () => {
    const { url, registry, clock, handler } = await startExpress();
    const api = registry.get('api');
    await api.fire(() => 'ok');
    clock.advance(1_000);
    const stream = await open(url);
    expect(stream.response.statusCode).toBe(200);
    expect(stream.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.response.headers['cache-control']).toBe('no-store');
    expect(stream.response.headers['x-content-type-options']).toBe('nosniff');

    const snapshot = await stream.next();
    expect(snapshot.event).toBe('snapshot');
    const [view] = breakersOf(snapshot.data);
    expect(view).toMatchObject({ name: 'api', state: 'closed', failureRate: 0, callsPerSecond: 1 });
    expect(view!.history).toHaveLength(120);
    expect(view!.history!.at(-1)).toEqual([1, 0, 0]);
    expect(stream.fields).toContain('retry: 2000');
    expect(handler.clients).toBe(1);

    await fail(api);
    await fail(api); // opens: pushed at once, without waiting for the next update
    const transition = await stream.nextOf('transition');
    expect((transition.data as { breaker: WireView }).breaker).toMatchObject({
      name: 'api',
      state: 'open',
      halfOpenInMs: 10_000,
      failureRate: expect.closeTo(66.7, 1),
      transitions: [{ from: 'closed', to: 'open', reason: 'consecutive-failures' }],
    });

    clock.advance(1_000);
    const update = await stream.nextOf('update');
    const [updated] = breakersOf(update.data);
    expect(updated).toMatchObject({ name: 'api', state: 'open', callsPerSecond: 2, point: [0, 2, 0] });
    await api.fire(() => 'not called').catch(() => {});
    clock.advance(1_000);
    expect(breakersOf((await stream.nextOf('update')).data)[0]).toMatchObject({
      callsPerSecond: 1,
      point: [0, 0, 1],
      halfOpenInMs: 8_000,
    });

    // A second later nothing has changed: the update still comes, as the heartbeat, and lists no breaker.
    clock.advance(10_000);
    await stream.nextOf('transition'); // half-open, as the open timer fires
    let quiet;
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      quiet = await stream.nextOf('update');
    }
    expect(breakersOf(quiet!.data)).toEqual([]);
  });

  it('removes the listener and the timer when a client leaves, and bounds the number of clients', async () => {
    const { url, registry, clock, handler } = await startExpress({ maxClients: 2 });
    registry.get('api');
    expect(clock.pendingTimers).toBe(0);
    const first = await open(url);
    const second = await open(url);
    await first.next();
    await second.next();
    expect(handler.clients).toBe(2);
    expect(clock.pendingTimers).toBe(1); // one timer for every client

    const third = await readEvents(`${url}/events`);
    expect(third.response.statusCode).toBe(503);
    expect(third.response.headers['retry-after']).toBe('10');
    third.close();

    first.close();
    await until(() => handler.clients === 1);
    expect(clock.pendingTimers).toBe(1);
    second.close();
    await until(() => handler.clients === 0);
    expect(clock.pendingTimers).toBe(0);

    // Room again, and the timer comes back with the client.
    const again = await open(url);
    await again.next();
    expect(clock.pendingTimers).toBe(1);
  });

  it('close() ends the streams and removes every listener it added', async () => {
    const { url, registry, clock, handler } = await startExpress();
    const api = registry.get('api');
    const stream = await open(url);
    await stream.next();
    expect(listens(registry, 'add')).toBe(true);
    expect(listens(api, 'state-change')).toBe(true);

    handler.close();
    await stream.ended;
    expect(handler.clients).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    for (const event of ['add', 'evict']) expect(listens(registry, event)).toBe(false);
    for (const event of ['state-change', 'success', 'failure', 'ignored', 'reject']) {
      expect(listens(api, event)).toBe(false);
    }
    // Closed, it passes requests on.
    expect((await fetch(`${url}/`)).status).toBe(404);
  });

  it('tells the page when a breaker leaves the registry', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ maxSize: 2, defaults: { clock } });
    const handler = dashboard({ registry, clock });
    cleanups.push(() => handler.close());
    const server = http.createServer(handler);
    track(server);
    const url = await listen(server);
    registry.get('a');
    registry.get('b');
    const stream = await open(url);
    expect(breakersOf((await stream.next()).data).map((b) => b.name)).toEqual(['a', 'b']);

    registry.get('c'); // evicts "a"
    expect((await stream.nextOf('remove')).data).toEqual({ name: 'a' });
    registry.delete('b'); // no event: noticed at the next update
    clock.advance(1_000);
    expect((await stream.nextOf('remove')).data).toEqual({ name: 'b' });
    const listed = (await (await fetch(`${url}/api/breakers`)).json()) as { breakers: WireView[] };
    expect(listed.breakers.map((b) => b.name)).toEqual(['c']);
  });

  describe('manual control', () => {
    const post = (url: string, headers: Record<string, string> = {}) =>
      fetch(url, { method: 'POST', headers: { origin: new URL(url).origin, ...headers } });

    it('does not exist without admin', async () => {
      const { url, registry } = await startExpress();
      registry.get('api');
      expect((await post(`${url}/api/breakers/api/force-open`)).status).toBe(404);
      expect(registry.get('api').state).toBe('closed');
    });

    it('needs POST, the same origin and authorisation', async () => {
      const authorized: string[] = [];
      const { url, registry, errors } = await startExpress({
        admin: {
          async authorize(req) {
            authorized.push(req.url ?? '');
            if (req.headers['x-boom'] !== undefined) throw new Error('session store down');
            return req.headers.authorization === 'Bearer let-me-in';
          },
        },
      });
      const html = await (await fetch(`${url}/`)).text();
      expect(html).toContain('data-admin="true"');
      expect(html).toContain('Actions');
      const api = registry.get('payments api/v2');
      const action = `${url}/api/breakers/${encodeURIComponent(api.name)}/force-open`;
      const auth = { authorization: 'Bearer let-me-in' };

      expect((await fetch(action, { headers: auth })).status).toBe(405);
      expect((await fetch(action, { headers: auth })).headers.get('allow')).toBe('POST');
      const noOrigin = await fetch(action, { method: 'POST', headers: auth });
      expect(noOrigin.status).toBe(403);
      expect(await noOrigin.json()).toEqual({ error: expect.stringContaining('no Origin') });
      expect((await post(action, { ...auth, origin: 'http://evil.example' })).status).toBe(403);
      expect((await post(action, { ...auth, origin: 'null' })).status).toBe(403);
      expect((await post(action, { ...auth, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect(authorized).toEqual([]); // cross-origin requests never reach authorize
      const denied = await post(action);
      expect(denied.status).toBe(403);
      expect(await denied.json()).toEqual({ error: 'Not authorised to change breakers' });
      expect(api.state).toBe('closed');

      const forced = await post(action, auth);
      expect(forced.status).toBe(200);
      expect(forced.headers.get('cache-control')).toBe('no-store');
      expect(await forced.json()).toMatchObject({
        breaker: { name: 'payments api/v2', state: 'forced-open' },
      });
      expect(api.state).toBe('forced-open');
      const reset = await post(action.replace(/force-open$/, 'reset'), auth);
      expect(reset.status).toBe(200);
      expect(api.state).toBe('closed');

      // A name the registry does not hold is not made.
      expect((await post(`${url}/api/breakers/ghost/reset`, auth)).status).toBe(404);
      expect(registry.has('ghost')).toBe(false);
      expect((await post(`${url}/api/breakers/%E0%A4%A/reset`, auth)).status).toBe(400);

      // An authorize that throws: nothing changes, and the app's error handler answers.
      const failed = await post(action, { ...auth, 'x-boom': '1' });
      expect(failed.status).toBe(500);
      expect(await failed.json()).toEqual({ error: 'handled by the app' });
      expect(api.state).toBe('closed');
      await until(() => errors.length === 1);
      expect(errors[0]).toMatchObject({ message: 'session store down' });
    });
  });

  it('is off in production unless enabled: true is given', async () => {
    const registry = new BreakerRegistry();
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const error = thrown(() => dashboard({ registry }));
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ option: 'enabled' });
      expect((error as Error).message).toMatch(/off in production .*enabled: true/);
      expect(() => koaDashboard({ registry })).toThrow(/enabled: true/);

      const off = dashboard({ registry, enabled: false });
      const app = express();
      app.use('/breakers', off);
      const server = http.createServer(app);
      track(server);
      const url = await listen(server);
      expect((await fetch(`${url}/breakers/`)).status).toBe(404);

      const on = dashboard({ registry, enabled: true });
      cleanups.push(() => on.close());
      const onServer = http.createServer(on);
      track(onServer);
      expect((await fetch(`${await listen(onServer)}/`)).status).toBe(200);
    } finally {
      process.env.NODE_ENV = previous;
    }
  });

  it('checks its options once, naming the option and the value', () => {
    const registry = new BreakerRegistry();
    const cases: [unknown, string, RegExp][] = [
      [undefined, 'registry', /expected an object with a "registry"; received undefined/],
      [{}, 'registry', /"registry": expected a BreakerRegistry; received undefined/],
      [{ registry: new Map() }, 'registry', /received an object/],
      [{ registry, admin: {} }, 'admin', /authorize\(request\) function; received an object/],
      [{ registry, admin: () => true }, 'admin', /received a function/],
      [{ registry, enabled: 'yes' }, 'enabled', /a boolean; received "yes"/],
      [{ registry, maxClients: 0 }, 'maxClients', /at least 1; received 0/],
      [{ registry, clock: Date }, 'clock', /now\(\), setTimeout\(\) and clearTimeout\(\)/],
      [
        { registry, authorize: () => true },
        'authorize',
        /Unknown .* "authorize"\. Did you mean "admin: \{ authorize \}"\?/,
      ],
      [{ registry, path: '/breakers' }, 'path', /app\.use\("\/breakers", dashboard\(\{ registry \}\)\)/],
    ];
    for (const [options, option, message] of cases) {
      const error = thrown(() => dashboard(options as DashboardOptions));
      expect(error, String(message)).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ option, code: 'BREAKER_INVALID_OPTION' });
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('dashboard() from @breaker/dashboard');
    }
    expect(() => koaDashboard({ registry, path: 'breakers' })).toThrow(
      /koaDashboard\(\).*"path".*received "breakers"/,
    );
    expect(() => koaDashboard({ registry, path: '/breakers/' })).toThrow(InvalidOptionError);
    expect(() => koaDashboard({ registry, prefix: '/x' } as never)).toThrow(/Did you mean "path"\?/);
  });
});

describe('koaDashboard()', () => {
  it('serves the page, the stream and manual control under its path, and passes other requests on', async () => {
    const clock = new ManualClock();
    const registry = new BreakerRegistry({ defaults: { clock } });
    const seen: string[] = [];
    const middleware = koaDashboard({
      registry,
      clock,
      admin: {
        authorize: (ctx) => {
          if (ctx.get('x-boom') !== '') throw new Error('session store down');
          return ctx.get('authorization') === 'Bearer let-me-in';
        },
      },
    });
    cleanups.push(() => middleware.close());
    const app = new Koa();
    const errors: unknown[] = [];
    app.on('error', (error) => errors.push(error));
    app.use(middleware);
    app.use((ctx) => {
      seen.push(ctx.path);
      ctx.body = 'app';
    });
    const server = http.createServer(app.callback());
    track(server);
    const origin = await listen(server);
    const url = `${origin}/breakers`;
    const api = registry.get('api');

    const redirect = await fetch(url, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/breakers/');
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('data-admin="true"');
    expect(await (await fetch(`${origin}/other`)).text()).toBe('app');
    expect(await (await fetch(`${origin}/breakersfoo`)).text()).toBe('app');
    expect(seen).toEqual(['/other', '/breakersfoo']);

    const stream = await open(url);
    expect(breakersOf((await stream.next()).data)[0]).toMatchObject({ name: 'api', state: 'closed' });
    expect(middleware.clients).toBe(1);

    const action = `${url}/api/breakers/api/force-open`;
    expect((await fetch(action, { method: 'POST', headers: { origin } })).status).toBe(403);
    const forced = await fetch(action, {
      method: 'POST',
      headers: { origin, authorization: 'Bearer let-me-in' },
    });
    expect(forced.status).toBe(200);
    expect(api.state).toBe('forced-open');
    expect((await stream.nextOf('transition')).data).toMatchObject({ breaker: { state: 'forced-open' } });
    const failed = await fetch(action.replace(/force-open$/, 'reset'), {
      method: 'POST',
      headers: { origin, authorization: 'Bearer let-me-in', 'x-boom': '1' },
    });
    expect(failed.status).toBe(500);
    expect(api.state).toBe('forced-open');
    expect(errors).toMatchObject([{ message: 'session store down' }]);

    stream.close();
    await until(() => middleware.clients === 0);
    expect(clock.pendingTimers).toBe(0);
  });
});
