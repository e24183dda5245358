import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BreakerRegistry, Clock } from '@breaker/core';
import { crossOriginReason, type AdminAction, type AdminOptions } from './admin.js';
import { HISTORY_SECONDS, Monitor } from './monitor.js';
import { APP_JS, renderPage } from './page.js';
import { send, sendJson } from './respond.js';
import { EventStreams } from './stream.js';
import type { ResolvedDashboardOptions } from './options.js';

/** A path the dashboard answers, relative to where it is mounted. */
export type Route =
  | { kind: 'page' | 'script' | 'events' | 'list' }
  | { kind: 'action'; encodedName: string; action: AdminAction };

/** Where a request came from, as the framework adapter sees it. */
export interface Target<Subject> {
  /** The path as the client sent it, before any mount point was taken off. */
  fullPath: string;
  /** The query string, with its `?`, or `''`. */
  search: string;
  /** What `admin.authorize` is given. */
  subject: Subject;
  /** Answers an unexpected error (a throwing `authorize`): the framework's error handling, or a `500`. */
  fail(error: unknown): void;
}

const ACTION = /^\/api\/breakers\/([^/]+)\/(force-open|reset)$/;

/** The dashboard behind every adapter: routes, pages, event streams and manual control. */
export class DashboardServer<Subject> {
  readonly #registry: BreakerRegistry;
  readonly #clock: Clock;
  readonly #admin: AdminOptions<Subject> | undefined;
  readonly #monitor: Monitor;
  readonly #streams: EventStreams;
  readonly #page: string;
  #closed = false;

  constructor(options: ResolvedDashboardOptions<Subject>) {
    this.#registry = options.registry;
    this.#clock = options.clock;
    this.#admin = options.admin;
    this.#page = renderPage(options.admin !== undefined);
    // The monitor calls back only after a breaker changes, by which time the streams exist.
    this.#monitor = new Monitor(options.registry, options.clock, {
      transition: (view) => this.#streams.transition(view),
      remove: (name) => this.#streams.remove(name),
    });
    this.#streams = new EventStreams(this.#monitor, options.clock, options.maxClients);
  }

  /** Open event streams. */
  get clients(): number {
    return this.#streams.size;
  }

  /** The route for `path` (relative to the mount point), or `undefined` when the dashboard does not answer it. */
  match(path: string): Route | undefined {
    if (this.#closed) return undefined;
    switch (path) {
      case '':
      case '/':
        return { kind: 'page' };
      case '/app.js':
        return { kind: 'script' };
      case '/events':
        return { kind: 'events' };
      case '/api/breakers':
        return { kind: 'list' };
    }
    if (this.#admin === undefined) return undefined;
    const action = ACTION.exec(path);
    if (action === null) return undefined;
    return { kind: 'action', encodedName: action[1]!, action: action[2] as AdminAction };
  }

  /** Answers a request for `route`. */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    target: Target<Subject>,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    if (route.kind === 'action') {
      if (method !== 'POST') return notAllowed(res, 'POST');
      return this.#act(req, res, route, target);
    }
    if (route.kind === 'events') {
      if (method !== 'GET') return notAllowed(res, 'GET');
      if (this.#streams.full) {
        return sendJson(
          res,
          503,
          { error: 'Too many dashboard viewers; try again later' },
          { 'retry-after': '10' },
        );
      }
      return this.#streams.open(res);
    }
    if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
    switch (route.kind) {
      case 'page': {
        const { fullPath, search } = target;
        // Relative links (app.js, events) need the trailing slash: /breakers becomes /breakers/.
        if (!fullPath.endsWith('/') && fullPath.startsWith('/') && !fullPath.startsWith('//')) {
          return send(res, 302, 'text/plain; charset=utf-8', 'Found', { location: `${fullPath}/${search}` });
        }
        return send(res, 200, 'text/html; charset=utf-8', this.#page);
      }
      case 'script':
        return send(res, 200, 'text/javascript; charset=utf-8', APP_JS);
      case 'list': {
        const second = this.#monitor.second() - 1;
        return sendJson(res, 200, {
          now: this.#clock.now(),
          second,
          historySeconds: HISTORY_SECONDS,
          admin: this.#admin !== undefined,
          breakers: this.#monitor.snapshot(second),
        });
      }
    }
  }

  /** Ends every event stream and stops watching the registry; the handler then passes every request on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#streams.close();
    this.#monitor.close();
  }

  async #act(
    req: IncomingMessage,
    res: ServerResponse,
    route: Extract<Route, { kind: 'action' }>,
    target: Target<Subject>,
  ): Promise<void> {
    req.resume();
    const refused = crossOriginReason(req);
    if (refused !== undefined)
      return sendJson(res, 403, { error: `Cross-origin request refused: ${refused}` });
    let allowed: boolean;
    try {
      allowed = (await this.#admin!.authorize(target.subject)) === true;
    } catch (error) {
      return target.fail(error);
    }
    if (!allowed) return sendJson(res, 403, { error: 'Not authorised to change breakers' });
    let name: string;
    try {
      name = decodeURIComponent(route.encodedName);
    } catch {
      return sendJson(res, 400, { error: 'Malformed breaker name' });
    }
    // peek, not get: a request must never make a breaker.
    const breaker = this.#registry.peek(name);
    if (breaker === undefined) return sendJson(res, 404, { error: 'No breaker by that name' });
    if (route.action === 'reset') breaker.reset();
    else breaker.forceOpen();
    sendJson(res, 200, { breaker: this.#monitor.viewOf(name) });
  }
}

function notAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, 405, { error: `Method not allowed; use ${allow}` }, { allow });
}
