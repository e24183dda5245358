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

function isDropped(name: string, dropped: Set<string>): boolean {
  return dropped.has(name) || name.startsWith('proxy-');
}

/** Request headers for the partner: hop-by-hop ones dropped, `X-Forwarded-For/Proto/Host` set. */
export function forwardedHeaders(
  req: IncomingMessage,
  target: URL,
  trustProxy: boolean,
): Record<string, string | string[]> {
  const dropped = hopByHop(req.headers);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || isDropped(name, dropped)) continue;
    // A client could claim any origin; only a trusted proxy in front may pass these on.
    if (!trustProxy && (name === 'forwarded' || name.startsWith('x-forwarded-'))) continue;
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

/** Response headers for the client: hop-by-hop ones dropped. */
export function responseHeaders(headers: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const dropped = hopByHop(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !isDropped(name, dropped)) out[name] = value;
  }
  return out;
}
