import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the partner saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export type PartnerRoute = (req: IncomingMessage, res: ServerResponse) => void;

/** A partner API on loopback whose behaviour a test switches, and which records what reached it. */
export interface Partner {
  origin: string;
  port: number;
  seen: SeenRequest[];
  /** Responses whose connection closed before the partner finished them. */
  readonly cutShort: number;
  /** Connections opened to the partner. */
  readonly connections: number;
  route: PartnerRoute;
  close(): Promise<void>;
}

export async function startPartner(route: PartnerRoute = reply(200, 'partner data')): Promise<Partner> {
  const seen: SeenRequest[] = [];
  const state = { cutShort: 0, connections: 0 };
  const partner: Partner = {
    origin: '',
    port: 0,
    seen,
    get cutShort() {
      return state.cutShort;
    },
    get connections() {
      return state.connections;
    },
    route,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.on('close', () => {
      if (!res.writableFinished) state.cutShort++;
    });
    partner.route(req, res);
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  partner.port = port;
  partner.origin = `http://127.0.0.1:${port}`;
  return partner;
}

/** Answers with a fixed status, body and headers. */
export function reply(
  status: number,
  body: string,
  headers: Record<string, string | string[]> = {},
): PartnerRoute {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
  };
}

/** Streams `total` bytes in `chunkSize` pieces, honouring back-pressure, optionally pausing between pieces. */
export function streamBytes(total: number, chunkSize = 64 * 1024, pauseMs = 0): PartnerRoute {
  return (_req, res) => {
    const chunk = Buffer.alloc(chunkSize, 0x61);
    let sent = 0;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    const pump = (): void => {
      while (sent < total && !res.destroyed) {
        const size = Math.min(chunkSize, total - sent);
        sent += size;
        const more = res.write(size === chunkSize ? chunk : chunk.subarray(0, size));
        if (!more) {
          res.once('drain', pump);
          return;
        }
        if (pauseMs > 0) {
          setTimeout(pump, pauseMs);
          return;
        }
      }
      if (sent >= total) res.end();
    };
    pump();
  };
}

/** Reads the whole request body, counting its bytes, and answers `{ bytes }`. */
export function countUpload(): PartnerRoute {
  return (req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes }));
    });
  };
}

/** Announces `declared` bytes, sends `sent` of them, then resets the connection. */
export function resetMidBody(declared: number, sent: number): PartnerRoute {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(declared) });
    res.write(Buffer.alloc(sent, 0x62), () => {
      setTimeout(() => res.socket?.resetAndDestroy(), 20);
    });
  };
}
