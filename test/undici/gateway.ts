/** Gateways in front of loopback partners, and clients that read exactly what they send back. */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { Agent } from 'undici';
import { afterEach, expect } from 'vitest';
import { koaProxy, proxy, type ProxyHandler, type ProxyOptions } from '@breaker/undici';
import { startPartner, type Partner, type PartnerRoute } from './partner.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** Runs `step` after the current test, before the steps registered earlier. */
export function afterTest(step: () => Promise<unknown>): void {
  cleanup.push(step);
}

export type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export async function serve(listener: Listener) {
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

export async function partner(route?: PartnerRoute): Promise<Partner> {
  const started = await startPartner(route);
  cleanup.push(() => started.close());
  return started;
}

export function ownAgent(): Agent {
  const agent = new Agent({ keepAliveTimeout: 100 });
  cleanup.push(() => agent.destroy());
  return agent;
}

export type Options = Omit<ProxyOptions, 'target'>;

/** The proxy mounted at `/partner` in an Express 5 app. */
export async function expressGateway(target: Partner | string, options: Options = {}) {
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
export async function koaGateway(target: Partner | string, options: Options = {}) {
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

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request through node:http, which sends paths and headers exactly as given. */
export function call(
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
export function rawCall(port: number, text: string): Promise<Reply> {
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

export function parseAnswer(raw: Buffer): Reply {
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

export function countsOf(handler: Pick<ProxyHandler, 'interceptor'>) {
  const [breaker] = handler.interceptor.registry.list();
  return breaker!.stats().counts;
}

export function statsOf(handler: Pick<ProxyHandler, 'interceptor'>) {
  return handler.interceptor.registry.list()[0]!.stats();
}

export async function until(condition: () => boolean, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

export function expectProblem(res: Reply, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  return body;
}

export function expectOpenProblem(res: Reply, breaker: string) {
  const body = expectProblem(res, 503);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(body.breaker).toBe(breaker);
  expect(body.detail).toContain(breaker);
  return body;
}
