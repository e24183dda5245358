import type { IncomingMessage, ServerResponse } from 'node:http';
import { send } from './respond.js';
import { resolveDashboardOptions, type DashboardOptions } from './options.js';
import { DashboardServer } from './server.js';

/** A Node.js request handler, usable as Express middleware: `app.use('/breakers', dashboard({ registry }))`. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** Event streams open now. */
  readonly clients: number;
  /** Ends every event stream and stops watching the registry; the handler then passes every request on. */
  close(): void;
}

const CONTEXT = 'dashboard() from @breaker/dashboard';

/**
 * A live page of every breaker in `registry`, served under the handler's mount path: `/` the page,
 * `/events` its Server-Sent Events stream, `/api/breakers` a JSON snapshot and, with `admin`,
 * `POST /api/breakers/:name/force-open` and `.../reset`. Express strips the mount path; with a
 * plain `http.createServer(handler)` the dashboard is at the root.
 */
export function dashboard<Req extends IncomingMessage = IncomingMessage>(
  options: DashboardOptions<Req>,
): DashboardHandler {
  const resolved = resolveDashboardOptions(options, CONTEXT, {
    hints: {
      path: 'Mount the handler where it should answer instead: app.use("/breakers", dashboard({ registry })).',
    },
  });
  if (!resolved.enabled) {
    return Object.assign(
      function dashboardDisabled(
        _req: IncomingMessage,
        res: ServerResponse,
        next?: (error?: unknown) => void,
      ) {
        if (next !== undefined) return next();
        notFound(res);
      },
      { clients: 0, close() {} },
    );
  }
  const server = new DashboardServer<Req>(resolved);

  const handler = function dashboardHandler(
    req: IncomingMessage,
    res: ServerResponse,
    next?: (error?: unknown) => void,
  ): void {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const route = server.match(path);
    if (route === undefined) {
      if (next !== undefined) return next();
      return notFound(res);
    }
    // Express keeps the URL before its mount path was taken off in `originalUrl`.
    const original = (req as { originalUrl?: unknown }).originalUrl;
    const full = typeof original === 'string' ? original : url;
    const fullQuery = full.indexOf('?');
    const target = {
      fullPath: fullQuery === -1 ? full : full.slice(0, fullQuery),
      search: fullQuery === -1 ? '' : full.slice(fullQuery),
      subject: req as Req,
      fail(error: unknown) {
        if (next !== undefined && !res.headersSent) return next(error);
        internalError(res);
      },
    };
    server.serve(req, res, route, target).catch((error: unknown) => target.fail(error));
  };
  return Object.defineProperties(handler, {
    clients: { get: () => server.clients, enumerable: true },
    close: { value: () => server.close(), enumerable: true },
  }) as DashboardHandler;
}

function internalError(res: ServerResponse): void {
  send(res, 500, 'application/json; charset=utf-8', '{"error":"Internal error"}');
}

function notFound(res: ServerResponse): void {
  send(res, 404, 'application/json; charset=utf-8', '{"error":"Not found"}');
}
