import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { TLSSocket } from 'node:tls';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'host',
  // Node has already answered a client's 100-continue; undici refuses to send it on.
  'expect',
]);

/** Header names that apply to one connection only: the fixed list plus those named in `Connection`. */
function hopByHop(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Set<string> {
  const named = new Set(HOP_BY_HOP);
  const connection = headers.connection;
  for (const value of Array.isArray(connection) ? connection : [connection]) {
    for (const name of (value ?? '').split(',')) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed !== '') named.add(trimmed);
    }
  }
  return named;
}

/**
 * Headers through which a client's address reaches the partner, which partners and their frameworks
 * believe: a client could claim any address in them, so only a trusted proxy in front may pass them on.
 */
const CLIENT_ADDRESS = new Set([
  'forwarded',
  'x-forwarded',
  'forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'cf-connecting-ipv6',
  'cf-pseudo-ipv4',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
  'x-envoy-external-address',
  'x-appengine-user-ip',
  'x-azure-clientip',
  'akamai-client-ip',
]);

function isClientAddress(name: string): boolean {
  return CLIENT_ADDRESS.has(name) || name.startsWith('x-forwarded-');
}

function isDropped(name: string, dropped: Set<string>): boolean {
  return dropped.has(name) || name.startsWith('proxy-');
}

/**
 * Request headers for the partner: hop-by-hop ones dropped, `X-Forwarded-For/Proto/Host` set, and the
 * client's own forwarding and client-address headers dropped unless `trustProxy`.
 */
export function forwardedHeaders(
  req: IncomingMessage,
  target: URL,
  trustProxy: boolean,
): Record<string, string | string[]> {
  const dropped = hopByHop(req.headers);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || isDropped(name, dropped)) continue;
    if (!trustProxy && isClientAddress(name)) continue;
    headers[name] = value;
  }
  const client = req.socket.remoteAddress ?? '';
  const incoming = (name: string): string | undefined => {
    const value = req.headers[name];
    return trustProxy ? (Array.isArray(value) ? value.join(', ') : value) : undefined;
  };
  const priorFor = incoming('x-forwarded-for');
  headers['x-forwarded-for'] = priorFor ? `${priorFor}, ${client}` : client;
  headers['x-forwarded-proto'] =
    incoming('x-forwarded-proto') ?? (req.socket instanceof TLSSocket ? 'https' : 'http');
  const host = incoming('x-forwarded-host') ?? req.headers.host;
  if (host !== undefined) headers['x-forwarded-host'] = host;
  headers.host = target.host;
  return headers;
}

/**
 * Response headers for the client: hop-by-hop ones dropped, and `Retry-After` as `retryAfter` rewrites it
 * (dropped when it gives `undefined`).
 */
export function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
  retryAfter: (value: string | string[]) => string | undefined,
): OutgoingHttpHeaders {
  const dropped = hopByHop(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isDropped(name, dropped)) continue;
    if (name === 'retry-after') {
      const seconds = retryAfter(value);
      if (seconds !== undefined) out[name] = seconds;
    } else out[name] = value;
  }
  return out;
}
