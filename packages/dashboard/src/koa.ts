import type { Context, Middleware, Next } from 'koa';
import { invalid, resolveDashboardOptions, type DashboardOptions } from './options.js';
import { send } from './respond.js';
import { DashboardServer } from './server.js';

/** Options of {@link koaDashboard}: those of `dashboard()` (`authorize` gets the context), and `path`. */
export interface KoaDashboardOptions extends DashboardOptions<Context> {
  /** Where the dashboard answers (default `/breakers`). */
  path?: string | undefined;
}

/** A Koa middleware that answers under its `path` and passes every other request on. */
export type KoaDashboardMiddleware = Middleware & {
  /** Event streams open now. */
  readonly clients: number;
  /** Ends every event stream and stops watching the registry; the middleware then passes every request on. */
  close(): void;
};

export const DEFAULT_KOA_PATH = '/breakers';
const CONTEXT = 'koaDashboard() from @breaker/dashboard';

/** The dashboard for Koa: `app.use(koaDashboard({ registry }))` serves it at `/breakers`. */
export function koaDashboard(options: KoaDashboardOptions): KoaDashboardMiddleware {
  const { path = DEFAULT_KOA_PATH, ...rest } = (options ?? {}) as KoaDashboardOptions;
  const resolved = resolveDashboardOptions<Context>(rest as DashboardOptions<Context>, CONTEXT, {
    known: ['path'],
    hints: { prefix: 'Did you mean "path"?', mount: 'Did you mean "path"?' },
  });
  if (typeof path !== 'string' || !path.startsWith('/') || (path.length > 1 && path.endsWith('/'))) {
    throw invalid(
      CONTEXT,
      'path',
      'a path that starts with "/" and does not end with one, such as "/breakers"',
      path,
    );
  }
  if (!resolved.enabled) {
    return Object.assign(
      async function dashboardDisabled(_ctx: Context, next: Next) {
        await next();
      },
      { clients: 0, close() {} },
    );
  }
  const server = new DashboardServer<Context>(resolved);

  const middleware = async function dashboardMiddleware(ctx: Context, next: Next): Promise<void> {
    const relative = within(ctx.path, path);
    const route = relative === undefined ? undefined : server.match(relative);
    if (route === undefined) return next();
    // The dashboard writes to the Node response itself, event streams included.
    ctx.respond = false;
    // Koa's own error handling cannot answer once `respond` is off: answer here, and report as Koa does.
    const fail = (error: unknown): void => {
      send(ctx.res, 500, 'application/json; charset=utf-8', '{"error":"Internal error"}');
      ctx.app.emit('error', error, ctx);
    };
    try {
      await server.serve(ctx.req, ctx.res, route, {
        fullPath: ctx.path,
        search: ctx.search,
        subject: ctx,
        fail,
      });
    } catch (error) {
      fail(error);
    }
  };
  return Object.defineProperties(middleware, {
    clients: { get: () => server.clients, enumerable: true },
    close: { value: () => server.close(), enumerable: true },
  }) as KoaDashboardMiddleware;
}

/** `path` relative to `mount`, or `undefined` when it is not under it. */
function within(path: string, mount: string): string | undefined {
  if (mount === '/') return path;
  if (path === mount) return '';
  return path.startsWith(`${mount}/`) ? path.slice(mount.length) : undefined;
}
