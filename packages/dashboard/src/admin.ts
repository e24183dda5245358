import type { IncomingMessage } from 'node:http';

/** Manual control from the page: force a breaker open, or reset it. */
export interface AdminOptions<Subject = IncomingMessage> {
  /**
   * Whether this request may change a breaker's state: Express and Node get the request, Koa the
   * context. Called for every state-changing request that passed the same-origin check.
   */
  authorize(request: Subject): boolean | Promise<boolean>;
}

/** The state changes the page can ask for. */
export type AdminAction = 'force-open' | 'reset';

/**
 * Why a state-changing request does not come from the dashboard's own page, or `undefined` when it does:
 * its `Origin` must name the host the request was sent to, and a browser's `Sec-Fetch-Site` must agree.
 */
export function crossOriginReason(req: IncomingMessage): string | undefined {
  const { origin, host } = req.headers;
  if (origin === undefined) return 'the request has no Origin header';
  if (host === undefined) return 'the request has no Host header';
  let originHost: string;
  let ownHost: string;
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'the Origin is not an http(s) origin';
    originHost = url.host;
    // Parsed with the origin's scheme, so that a default port compares equal with or without it.
    ownHost = new URL(`${url.protocol}//${host}`).host;
  } catch {
    return 'the Origin or Host header is malformed';
  }
  if (originHost !== ownHost) return 'the Origin does not match the Host';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return 'the browser reports a cross-site request';
  return undefined;
}
