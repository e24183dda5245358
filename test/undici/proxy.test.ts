import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import express from 'express';
import Koa from 'koa';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@breaker/core/testing';
import type { FallbackInfo } from '@breaker/core/http';
import { koaProxy, proxy, type ProxyHandler, type ProxyOptions } from '@breaker/undici';
import {
  countUpload,
  reply,
  resetMidBody,
  startPartner,
  streamBytes,
  type Partner,
  type PartnerRoute,
} from './partner.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(listener: Listener) {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port, url: `http://127.0.0.1:${port}` };
}

async function partner(route?: PartnerRoute): Promise<Partner> {
  const started = await startPartner(route);
  cleanup.push(() => started.close());
  return started;
}

function ownAgent(): Agent {
  const agent = new Agent({ keepAliveTimeout: 100 });
  cleanup.push(() => agent.destroy());
  return agent;
}

type Options = Omit<ProxyOptions, 'target'>;

/** The proxy mounted at `/partner` in an Express 5 app. */
async function expressGateway(target: Partner | string, options: Options = {}) {
  const handler = proxy({
    target: typeof target === 'string' ? target : `${target.origin}/api`,
    dispatcher: ownAgent(),
    ...options,
  });
  const app = express();
  app.use('/partner', handler);
  const server = await serve(app);
  return { ...server, handler, prefix: '/partner' };
}

/** The proxy as the only middleware of a Koa 3 app. */
async function koaGateway(target: Partner | string, options: Options = {}) {
  const middleware = koaProxy({
    target: typeof target === 'string' ? target : `${target.origin}/api`,
    dispatcher: ownAgent(),
    ...options,
  });
  const app = new Koa();
  app.silent = true;
  app.use(middleware);
  const server = await serve(app.callback());
  return { ...server, handler: middleware, prefix: '' };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request through node:http, which sends paths and headers exactly as given. */
function call(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer to ${path}`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Sends raw bytes over a socket (which the request asks to be closed) and reads the answer. */
function rawCall(port: number, text: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5_000, () => socket.destroy(new Error('no raw answer')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(parseAnswer(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
    socket.write(text);
  });
}

function parseAnswer(raw: Buffer): Reply {
  const headEnd = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw
    .toString('latin1', 0, headEnd === -1 ? raw.length : headEnd)
    .split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
  if (headEnd === -1 || !match) throw new Error(`no answer head in ${JSON.stringify(statusLine)}`);
  const headers: IncomingHttpHeaders = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prior = headers[name];
    headers[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  let body = raw.subarray(headEnd + 4);
  if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at);
      const size = lineEnd === -1 ? 0 : parseInt(body.toString('latin1', at, lineEnd), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status: Number(match[1]), headers, body: body.toString('utf8') };
}

function countsOf(handler: Pick<ProxyHandler, 'interceptor'>) {
  const [breaker] = handler.interceptor.registry.list();
  return breaker!.stats().counts;
}

function statsOf(handler: Pick<ProxyHandler, 'interceptor'>) {
  return handler.interceptor.registry.list()[0]!.stats();
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

function expectProblem(res: Reply, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  return body;
}

function expectOpenProblem(res: Reply, breaker: string) {
  const body = expectProblem(res, 503);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(body.breaker).toBe(breaker);
  expect(body.detail).toContain(breaker);
  return body;
}

v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * Peak rise of `heapUsed`, and of `arrayBuffers`, over their values at the start, sampled every
 * 10 ms while `work` runs. Buffers live outside the heap and spent ones linger until a collection,
 * so `arrayBuffers` is read after one: what remains is what the streams still hold.
 */
async function peakMemoryRise<T>(
  work: () => Promise<T>,
): Promise<{ result: T; heap: number; buffers: number }> {
  collectGarbage();
  const start = process.memoryUsage();
  let heap = start.heapUsed;
  let buffers = start.arrayBuffers;
  const sample = (): void => {
    heap = Math.max(heap, process.memoryUsage().heapUsed);
    collectGarbage();
    buffers = Math.max(buffers, process.memoryUsage().arrayBuffers);
  };
  const sampler = setInterval(sample, 10);
  try {
    const result = await work();
    return { result, heap: heap - start.heapUsed, buffers: buffers - start.arrayBuffers };
  } finally {
    clearInterval(sampler);
  }
}

const MB = 1024 * 1024;
const SECRET = 'partner stack trace: password=hunter2';

describe('proxy(): headers', () => {
  it('streams a GET through with status, body and end-to-end headers, and rewrites the forwarding headers', async () => {
    const upstream = await partner((_req, res) => {
      res.writeHead(203, {
        'content-type': 'text/plain',
        'x-partner': 'yes',
        'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
        connection: 'x-partner-hop',
        'x-partner-hop': 'connection-only',
        'keep-alive': 'timeout=99, max=7',
        'proxy-authenticate': 'Basic realm="partner"',
        trailer: 'x-checksum',
      });
      res.write('hello ');
      setTimeout(() => res.end('from the partner'), 10);
    });
    const gateway = await expressGateway(upstream);
    const res = await rawCall(
      gateway.port,
      [
        'GET /partner/hello/world?x=1&y=two HTTP/1.1',
        'Host: gateway.example:8080',
        'Accept: text/plain',
        'X-Custom: kept',
        'Connection: close, X-Drop-Me',
        'X-Drop-Me: named in Connection',
        'Keep-Alive: timeout=300',
        'TE: trailers',
        'Trailer: X-Checksum',
        'Upgrade: websocket',
        'Proxy-Authorization: Basic c2VjcmV0',
        'Proxy-Connection: keep-alive',
        'X-Forwarded-For: 6.6.6.6',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Host: spoofed.example',
        'Forwarded: for=6.6.6.6;proto=https',
        '',
        '',
      ].join('\r\n'),
    );
    expect(res.status).toBe(203);
    expect(res.body).toBe('hello from the partner');
    expect(res.headers['x-partner']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(res.headers['x-partner-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['proxy-authenticate']).toBeUndefined();
    expect(res.headers.trailer).toBeUndefined();
    expect(res.headers.connection).toBe('close');

    expect(upstream.seen).toHaveLength(1);
    const seen = upstream.seen[0]!;
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/api/hello/world?x=1&y=two');
    expect(seen.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('gateway.example:8080');
    expect(seen.headers.accept).toBe('text/plain');
    expect(seen.headers['x-custom']).toBe('kept');
    for (const dropped of [
      'x-drop-me',
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'proxy-authorization',
      'proxy-connection',
      'forwarded',
    ]) {
      expect(seen.headers[dropped], dropped).toBeUndefined();
    }
    expect(seen.headers.connection ?? '').not.toMatch(/x-drop-me|close/);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });

  it('appends to the forwarding headers of a trusted proxy in front', async () => {
    const upstream = await partner();
    const gateway = await expressGateway(upstream, { trustProxy: true });
    const res = await call(gateway.port, '/partner/x', {
      headers: {
        host: 'internal.example',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'public.example',
        forwarded: 'for=203.0.113.7;proto=https',
      },
    });
    expect(res.status).toBe(200);
    const { headers } = upstream.seen[0]!;
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('https');
    expect(headers['x-forwarded-host']).toBe('public.example');
    expect(headers.forwarded).toBe('for=203.0.113.7;proto=https');
  });

  it('keeps the other X-Forwarded-* headers of a trusted proxy, as trustProxy promises', async () => {
    const upstream = await partner();
    const trusted = await expressGateway(upstream, { trustProxy: true });
    const headers = { 'x-forwarded-port': '443', 'x-forwarded-prefix': '/shop' };
    expect((await call(trusted.port, '/partner/x', { headers })).status).toBe(200);
    const untrusted = await expressGateway(upstream);
    expect((await call(untrusted.port, '/partner/x', { headers })).status).toBe(200);

    expect(upstream.seen[1]!.headers['x-forwarded-port']).toBeUndefined();
    expect(upstream.seen[1]!.headers['x-forwarded-prefix']).toBeUndefined();
    expect(upstream.seen[0]!.headers['x-forwarded-port']).toBe('443');
    expect(upstream.seen[0]!.headers['x-forwarded-prefix']).toBe('/shop');
  });
});

describe.each([
  ['express', expressGateway],
  ['koa', koaGateway],
] as const)('proxy() in %s: paths', (_name, gatewayFor) => {
  it.each([
    ['/../secret', '/api/secret'],
    ['/%2e%2e/secret', '/api/secret'],
    ['/a/%2E%2E/%2e%2e/secret', '/api/secret'],
    ['/a/./b/.%2E/../../c', '/api/c'],
    ['//evil.example/x', '/api/evil.example/x'],
    ['/../../etc/passwd?q=../x&r=%2F', '/api/etc/passwd?q=../x&r=%2F'],
    ['/', '/api/'],
    ['/dir/', '/api/dir/'],
  ])('keeps %s under the target path as %s', async (requested, expected) => {
    const upstream = await partner();
    const gateway = await gatewayFor(upstream);
    const res = await call(gateway.port, `${gateway.prefix}${requested}`);
    expect(res.status).toBe(200);
    expect(upstream.seen.map((seen) => seen.url)).toEqual([expected]);
  });

  it.each(['/..%2fsecret', '/..%2Fsecret', '/a/..%5csecret', '/a\\..\\secret', '/x%00.json'])(
    'answers 400 to %s without calling the partner',
    async (requested) => {
      const upstream = await partner();
      const gateway = await gatewayFor(upstream);
      const res = await call(gateway.port, `${gateway.prefix}${requested}`);
      expectProblem(res, 400);
      expect(upstream.seen).toHaveLength(0);
    },
  );

  it('answers 400 to an absolute-form request target without calling the partner', async () => {
    const upstream = await partner();
    const gateway = await gatewayFor(upstream);
    for (const target of [
      `http://evil.example${gateway.prefix}/x`,
      `http://127.0.0.1:${upstream.port}${gateway.prefix}/x`,
    ]) {
      const res = await rawCall(
        gateway.port,
        `GET ${target} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
      );
      expect(res.status, target).toBe(400);
    }
    const backslash = await rawCall(
      gateway.port,
      `GET ${gateway.prefix}/a\\..\\..\\secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expectProblem(backslash, 400);
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('proxy(): large bodies', () => {
  const SIZE = 50 * MB;

  it('streams a 50 MB upload to the partner without buffering it', async () => {
    const upstream = await partner(countUpload());
    const gateway = await expressGateway(upstream);
    const { result, heap, buffers } = await peakMemoryRise(
      () =>
        new Promise<Reply>((resolve, reject) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port: gateway.port,
              path: '/partner/upload',
              method: 'POST',
              headers: { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) },
              agent: false,
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (body += chunk));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            },
          );
          req.on('error', reject);
          req.setTimeout(10_000, () => req.destroy(new Error('upload stalled')));
          const chunk = Buffer.alloc(64 * 1024, 0x75);
          let sent = 0;
          const pump = (): void => {
            while (sent < SIZE) {
              sent += chunk.length;
              if (!req.write(chunk)) {
                req.once('drain', pump);
                return;
              }
            }
            req.end();
          };
          pump();
        }),
    );
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ bytes: SIZE });
    expect(upstream.seen[0]!.headers['content-length']).toBe(String(SIZE));
    expect(heap).toBeLessThan(25 * MB);
    expect(buffers).toBeLessThan(25 * MB);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });

  it('streams a 50 MB download to the client without buffering it', async () => {
    const upstream = await partner(streamBytes(SIZE));
    const gateway = await expressGateway(upstream);
    const { result, heap, buffers } = await peakMemoryRise(
      () =>
        new Promise<{ status: number; bytes: number; length: string | undefined }>((resolve, reject) => {
          const req = http.get(
            { host: '127.0.0.1', port: gateway.port, path: '/partner/download', agent: false },
            (res) => {
              let bytes = 0;
              res.on('data', (chunk: Buffer) => (bytes += chunk.length));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, bytes, length: res.headers['content-length'] }),
              );
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.setTimeout(10_000, () => req.destroy(new Error('download stalled')));
        }),
    );
    expect(result).toEqual({ status: 200, bytes: SIZE, length: String(SIZE) });
    expect(heap).toBeLessThan(25 * MB);
    expect(buffers).toBeLessThan(25 * MB);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });

  it('forwards an upload sent with Expect: 100-continue', async () => {
    const upstream = await partner(countUpload());
    const gateway = await expressGateway(upstream);
    const body = 'x'.repeat(2 * MB);
    const res = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: gateway.port,
          path: '/partner/upload',
          method: 'PUT',
          headers: { 'content-length': String(body.length), expect: '100-continue' },
          agent: false,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
          );
        },
      );
      req.on('continue', () => req.end(body));
      req.on('error', reject);
      req.setTimeout(5_000, () => req.destroy(new Error('no answer')));
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ bytes: body.length });
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });
});

describe('proxy(): faults mid-stream', () => {
  it('cancels the partner request when the client goes away mid-download, and counts it neither way', async () => {
    const upstream = await partner(streamBytes(20 * MB, 64 * 1024, 5));
    const gateway = await expressGateway(upstream);
    const received = await new Promise<number>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: gateway.port, path: '/partner/slow', agent: false },
        (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes >= 256 * 1024) {
              req.destroy();
              resolve(bytes);
            }
          });
        },
      );
      req.on('error', (error) => {
        if (!req.destroyed) reject(error);
      });
      req.setTimeout(5_000, () => req.destroy(new Error('download stalled')));
    });
    expect(received).toBeLessThan(20 * MB);
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    await until(() => {
      const counts = countsOf(gateway.handler);
      return counts.successes + counts.failures + counts.ignored > 0;
    });
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
    expect(statsOf(gateway.handler).state).toBe('closed');

    upstream.route = reply(200, 'still here');
    expect((await call(gateway.port, '/partner/after')).body).toBe('still here');
  });

  it('cancels the partner request when the client goes away before the answer starts', async () => {
    const upstream = await partner(() => {});
    const gateway = await expressGateway(upstream);
    const req = http.get({ host: '127.0.0.1', port: gateway.port, path: '/partner/hang', agent: false });
    req.on('error', () => {});
    expect(await until(() => upstream.seen.length === 1)).toBe(true);
    req.destroy();
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    await until(() => countsOf(gateway.handler).ignored > 0);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
  });

  it('cancels the partner request when the client goes away mid-upload, and counts it neither way', async () => {
    const upstream = await partner(countUpload());
    const gateway = await expressGateway(upstream);
    const req = http.request({
      host: '127.0.0.1',
      port: gateway.port,
      path: '/partner/upload',
      method: 'POST',
      headers: { 'content-length': String(10 * MB) },
      agent: false,
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(1 * MB, 0x75));
    expect(await until(() => upstream.seen.length === 1)).toBe(true);
    req.destroy();
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    await until(() => {
      const counts = countsOf(gateway.handler);
      return counts.successes + counts.failures + counts.ignored > 0;
    });
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
  });

  it('ends the client response when the partner resets mid-body, and records a failure', async () => {
    const declared = 1 * MB;
    const upstream = await partner(resetMidBody(declared, 16 * 1024));
    const gateway = await expressGateway(upstream);
    const outcome = await new Promise<{ bytes: number; ending: string }>((resolve) => {
      let bytes = 0;
      const req = http.get(
        { host: '127.0.0.1', port: gateway.port, path: '/partner/flaky', agent: false },
        (res) => {
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.on('end', () => resolve({ bytes, ending: 'end' }));
          res.on('aborted', () => resolve({ bytes, ending: 'aborted' }));
          res.on('error', () => resolve({ bytes, ending: 'error' }));
          res.on('close', () => resolve({ bytes, ending: 'close' }));
        },
      );
      req.on('error', () => resolve({ bytes, ending: 'request error' }));
      req.setTimeout(3_000, () => resolve({ bytes, ending: 'hang' }));
    });
    expect(outcome.ending).not.toBe('hang');
    expect(outcome.bytes).toBeLessThan(declared);
    expect(await until(() => countsOf(gateway.handler).failures === 1)).toBe(true);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 1 });

    upstream.route = reply(200, 'recovered');
    expect((await call(gateway.port, '/partner/again')).body).toBe('recovered');
  });
});

describe('proxy(): partner errors and the open breaker', () => {
  it('hides a partner 500 behind a 502 problem, then opens and answers 503 without calling the partner', async () => {
    const clock = new ManualClock();
    const upstream = await partner(reply(500, SECRET));
    const gateway = await expressGateway(upstream, {
      name: 'partner-api',
      failureThreshold: 3,
      timeout: 10_000,
      clock,
    });
    const breaker = `partner-api:${upstream.origin}`;
    for (let i = 0; i < 3; i++) {
      const res = await call(gateway.port, '/partner/orders');
      expectProblem(res, 502);
      expect(res.body).not.toContain('hunter2');
      expect(res.body).not.toContain('stack trace');
    }
    expect(statsOf(gateway.handler).state).toBe('open');

    const rejected = await call(gateway.port, '/partner/orders');
    const body = expectOpenProblem(rejected, breaker);
    expect(rejected.headers['retry-after']).toBe('10');
    expect(body.retryAfter).toBe(10);
    expect(rejected.body).not.toContain('hunter2');
    expect(upstream.seen).toHaveLength(3);
    expect(countsOf(gateway.handler)).toMatchObject({ failures: 3, rejections: 1 });

    clock.advance(10_000);
    upstream.route = reply(200, 'back again');
    const recovered = await call(gateway.port, '/partner/orders');
    expect(recovered.status).toBe(200);
    expect(recovered.body).toBe('back again');
  });

  it('passes a partner 4xx through as it is, and does not count it', async () => {
    const upstream = await partner(
      reply(404, '{"error":"no such order"}', { 'content-type': 'application/json' }),
    );
    const gateway = await expressGateway(upstream, { failureThreshold: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await call(gateway.port, '/partner/orders/7');
      expect(res.status).toBe(404);
      expect(res.body).toBe('{"error":"no such order"}');
    }
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 3, failures: 0 });
  });

  it('answers through the fallback while open, and with the 503 problem when the fallback throws', async () => {
    const upstream = await partner(reply(500, SECRET));
    const infos: FallbackInfo[] = [];
    let throwing = false;
    const gateway = await expressGateway(upstream, {
      failureThreshold: 2,
      timeout: 60_000,
      fallback: (_req, res, info) => {
        infos.push(info);
        if (throwing) throw new Error('fallback broke');
        res.writeHead(200, { 'content-type': 'application/json', 'x-fallback': 'yes' });
        res.end(JSON.stringify({ cached: true }));
      },
    });
    await call(gateway.port, '/partner/x');
    await call(gateway.port, '/partner/x');
    const fallback = await call(gateway.port, '/partner/x');
    expect(fallback.status).toBe(200);
    expect(fallback.headers['x-fallback']).toBe('yes');
    expect(JSON.parse(fallback.body)).toEqual({ cached: true });
    expect(infos).toHaveLength(1);
    expect(infos[0]).toMatchObject({ reason: 'open', breaker: upstream.origin });
    expect(infos[0]!.retryAfterMs).toBeGreaterThan(50_000);

    throwing = true;
    expectOpenProblem(await call(gateway.port, '/partner/x'), upstream.origin);
    expect(infos).toHaveLength(2);
    expect(upstream.seen).toHaveLength(2);
  });

  it('opens for the time a partner 503 asks for in Retry-After, and passes Retry-After on', async () => {
    const clock = new ManualClock();
    const upstream = await partner(reply(503, SECRET, { 'retry-after': '30' }));
    const gateway = await expressGateway(upstream, { failureThreshold: 5, timeout: 5_000, clock });
    const first = await call(gateway.port, '/partner/x');
    expectProblem(first, 502);
    expect(first.headers['retry-after']).toBe('30');
    expect(first.body).not.toContain('hunter2');
    const stats = statsOf(gateway.handler);
    expect(stats.state).toBe('open');
    expect(stats.retryAfterMs).toBe(30_000);

    const rejected = await call(gateway.port, '/partner/x');
    expectOpenProblem(rejected, upstream.origin);
    expect(rejected.headers['retry-after']).toBe('30');
    expect(upstream.seen).toHaveLength(1);

    clock.advance(29_000);
    expect((await call(gateway.port, '/partner/x')).headers['retry-after']).toBe('1');
    expect(upstream.seen).toHaveLength(1);
  });

  it('answers 502 when the partner port refuses connections, and counts a failure', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gateway = await expressGateway(`http://127.0.0.1:${port}/api`);
    const res = await call(gateway.port, '/partner/x');
    const body = expectProblem(res, 502);
    expect(body.title).toBe('Upstream unavailable');
    expect(res.body).not.toContain('ECONNREFUSED');
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 1 });
  });
});

describe('koaProxy()', () => {
  it('streams a GET through and answers 503 once open', async () => {
    const upstream = await partner(streamBytes(1 * MB, 16 * 1024));
    const gateway = await koaGateway(upstream, { name: 'koa-partner', failureThreshold: 2, timeout: 10_000 });
    const ok = await call(gateway.port, '/files/big?v=1', { headers: { host: 'bff.example' } });
    expect(ok.status).toBe(200);
    expect(ok.body.length).toBe(1 * MB);
    expect(ok.headers['content-type']).toBe('application/octet-stream');
    expect(upstream.seen[0]).toMatchObject({ url: '/api/files/big?v=1' });
    expect(upstream.seen[0]!.headers['x-forwarded-host']).toBe('bff.example');

    upstream.route = reply(500, SECRET);
    for (let i = 0; i < 2; i++) {
      const failed = await call(gateway.port, '/files/big');
      expectProblem(failed, 502);
      expect(failed.body).not.toContain('hunter2');
    }
    const rejected = await call(gateway.port, '/files/big');
    expectOpenProblem(rejected, `koa-partner:${upstream.origin}`);
    expect(rejected.headers['retry-after']).toBe('10');
    expect(upstream.seen).toHaveLength(3);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 2, rejections: 1 });
  });
});

describe('proxy(): options', () => {
  function thrown(options: unknown): TypeError & { option?: string } {
    try {
      proxy(options as ProxyOptions);
    } catch (error) {
      return error as TypeError & { option?: string };
    }
    throw new Error('proxy() accepted the options');
  }

  it.each([
    ['a missing target', {}],
    ['a relative target', { target: '/api' }],
    ['an ftp target', { target: 'ftp://files.example/api' }],
    ['a target with a query', { target: 'http://partner.example/api?key=1' }],
    ['a target with credentials', { target: 'http://user:pw@partner.example/api' }],
  ])('refuses %s, naming `target`', (_what, options) => {
    const error = thrown(options);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('target');
    expect(error.message).toContain('"target"');
    expect(error.message).not.toContain('pw');
  });

  it('refuses a trustProxy that is not a boolean', () => {
    const error = thrown({ target: 'http://partner.example', trustProxy: 'yes' });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('trustProxy');
    expect(error.message).toContain('"trustProxy"');
  });

  it('refuses a fallback or dispatcher of the wrong kind', () => {
    expect(thrown({ target: 'http://partner.example', fallback: 'cached' }).option).toBe('fallback');
    expect(thrown({ target: 'http://partner.example', dispatcher: {} }).option).toBe('dispatcher');
  });

  it('refuses an unknown option with a hint at the right one, naming proxy()', () => {
    const error = thrown({ target: 'http://partner.example', resetTimeout: 5_000 });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('resetTimeout');
    expect(error.message).toContain('resetTimeout');
    expect(error.message).toContain('`timeout`');
    expect(error.message).toContain('proxy()');
  });

  it('refuses a bad breaker option, naming it', () => {
    const error = thrown({ target: 'http://partner.example', failureThreshold: 0 });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('failureThreshold');
  });
});
