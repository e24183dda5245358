import { createServer, request, ServerResponse, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { takeOver } from './guard.js';

interface Received {
  status: number;
  message: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: { close(): void }[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/**
 * Serves one request with `handle` on a local port and returns what the client received; fails at once
 * when the handler throws, and after two seconds when no answer comes.
 */
async function serve(handle: (res: ServerResponse) => void | Promise<void>): Promise<Received> {
  let handlerFailed!: (error: unknown) => void;
  const failure = new Promise<never>((_resolve, reject) => (handlerFailed = reject));
  const server = createServer((_req, res) => {
    Promise.resolve()
      .then(() => handle(res))
      .catch((error: unknown) => {
        handlerFailed(error);
        res.destroy();
      });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const received = new Promise<Received>((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path: '/', timeout: 2_000 }, (incoming) => {
      let body = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => (body += chunk));
      incoming.on('end', () =>
        resolve({
          status: incoming.statusCode ?? 0,
          message: incoming.statusMessage ?? '',
          headers: incoming.headers,
          body,
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', reject);
    req.end();
  });
  return Promise.race([received, failure]);
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('a response taken from a late handler', () => {
  it("drops the handler's header changes, status, writes and end, and sends only the breaker's answer", async () => {
    const seen: unknown[] = [];
    const received = await serve(async (res) => {
      res.setHeader('x-early', 'kept');
      res.setHeader('x-removed', 'kept too');
      const answer = takeOver(res);
      seen.push(res.setHeader('x-late', 'dropped') === res);
      seen.push(res.appendHeader('x-early', 'dropped') === res);
      seen.push((res.removeHeader('x-removed') as unknown) === res);
      res.statusCode = 500;
      res.statusMessage = 'Handler Broke';
      seen.push(res.statusCode, res.statusMessage);
      seen.push(res.writeHead(500, { 'x-head': 'dropped' }) === res);
      seen.push((res.flushHeaders() as unknown) === res);
      seen.push(res.write('late body'));
      await new Promise<void>((resolve) => res.end('late end', 'utf8', resolve));
      seen.push('end callback ran');
      answer.statusCode = 503;
      answer.statusMessage = 'Breaker Answer';
      answer.setHeader('content-type', 'text/plain');
      answer.end('from the breaker');
    });
    expect(seen).toEqual([true, true, true, 200, undefined, true, true, true, 'end callback ran']);
    expect(received.status).toBe(503);
    expect(received.message).toBe('Breaker Answer');
    expect(received.body).toBe('from the breaker');
    expect(received.headers).toMatchObject({ 'x-early': 'kept', 'x-removed': 'kept too' });
    expect(received.headers).not.toHaveProperty('x-late');
    expect(received.headers).not.toHaveProperty('x-head');
  });

  it('runs an end callback the handler passes without data', async () => {
    const received = await serve(async (res) => {
      const answer = takeOver(res);
      await new Promise<void>((resolve) => res.end(resolve));
      answer.end('answered after the handler ended');
    });
    expect(received.body).toBe('answered after the handler ended');
  });

  it("keeps the breaker's answer writable after an await, with chained header calls", async () => {
    const received = await serve(async (res) => {
      const answer = takeOver(res);
      expect(answer.setHeader('x-one', '1')).toBe(answer);
      answer.setHeader('x-two', '2').setHeader('x-three', '3');
      await tick();
      answer.writeHead(502, { 'x-four': '4' });
      answer.write('part ');
      await tick();
      answer.end('end');
    });
    expect(received.status).toBe(502);
    expect(received.body).toBe('part end');
    expect(received.headers).toMatchObject({ 'x-one': '1', 'x-two': '2', 'x-three': '3', 'x-four': '4' });
  });

  it("closes the handler's writes again once each call of the answer returns", async () => {
    const received = await serve((res) => {
      const answer = takeOver(res);
      answer.setHeader('x-answer', 'yes');
      res.setHeader('x-handler', 'no');
      answer.statusCode = 504;
      res.statusCode = 500;
      res.end('handler end');
      answer.end('timed out');
    });
    expect(received.status).toBe(504);
    expect(received.body).toBe('timed out');
    expect(received.headers['x-answer']).toBe('yes');
    expect(received.headers).not.toHaveProperty('x-handler');
  });

  it("runs the framework's own methods on the answer, so what they write later is the breaker's too", async () => {
    const received = await serve((res) => {
      type Framework = ServerResponse & {
        status(code: number): Framework;
        sendLater(body: string): void;
      };
      const framework = res as Framework;
      framework.status = function (this: Framework, code: number) {
        this.statusCode = code;
        return this;
      };
      framework.sendLater = function (this: ServerResponse, body: string) {
        setImmediate(() => {
          this.setHeader('content-type', 'text/plain');
          this.end(body);
        });
      };
      const answer = takeOver(framework);
      answer.status(503).sendLater('later, from the fallback');
      framework.status(500);
    });
    expect(received.status).toBe(503);
    expect(received.headers['content-type']).toBe('text/plain');
    expect(received.body).toBe('later, from the fallback');
  });

  it('swallows the error of a write after the end instead of crashing the process', async () => {
    const received = await serve(async (res) => {
      const answer = takeOver(res);
      answer.end('done');
      answer.write('too late');
      await tick();
    });
    expect(received.body).toBe('done');
  });

  it('can be taken over twice, by an inner and an outer breaker', async () => {
    const received = await serve((res) => {
      const inner = takeOver(res);
      const outer = takeOver(res);
      res.statusCode = 500;
      inner.statusCode = 502;
      outer.end('outer answer');
    });
    expect(received.status).toBe(502);
    expect(received.body).toBe('outer answer');
  });
});

describe("the breaker's view of a taken response", () => {
  function fakeResponse(): ServerResponse {
    const res = new ServerResponse({
      method: 'GET',
      httpVersionMajor: 1,
      httpVersionMinor: 1,
    } as IncomingMessage);
    return res;
  }

  it('is the same function on each read, and passes constructor and app through untouched', () => {
    const res = fakeResponse() as ServerResponse & { app: () => void };
    const app = () => {};
    res.app = app;
    const view = takeOver(res);
    expect(view.end).toBe(view.end);
    expect(view.setHeader).toBe(view.setHeader);
    expect(view.constructor).toBe(ServerResponse);
    expect(view.app).toBe(app);
    expect(view.statusCode).toBe(200);
  });

  it("returns what the response's methods return, and the view in place of the response", () => {
    const view = takeOver(fakeResponse());
    expect(view.setHeader('x-one', '1')).toBe(view);
    expect(view.getHeader('x-one')).toBe('1');
    expect(view.hasHeader('x-two')).toBe(false);
  });

  it('keeps the status fields listed among the response own fields, for loggers', () => {
    const res = fakeResponse();
    takeOver(res);
    expect(Object.keys(res)).toEqual(expect.arrayContaining(['statusCode', 'statusMessage']));
  });

  it('opens the writes for own methods that can still be changed, even ones that write to the response directly', () => {
    const res = fakeResponse();
    const tag = (name: string) =>
      function () {
        res.setHeader(name, 'yes');
      };
    Object.defineProperty(res, 'pinned', { value: tag('x-pinned'), writable: true, configurable: false });
    Object.defineProperty(res, 'sealed', { value: tag('x-sealed'), writable: false, configurable: true });
    const view = takeOver(res) as ServerResponse & { pinned(): void; sealed(): void };
    view.pinned();
    view.sealed();
    expect(res.getHeader('x-pinned')).toBe('yes');
    expect(res.getHeader('x-sealed')).toBe('yes');
  });

  it('hands out a fixed method as it is', () => {
    const res = fakeResponse();
    const fixed = () => 'fixed';
    Object.defineProperty(res, 'fixed', { value: fixed, writable: false, configurable: false });
    const view = takeOver(res) as ServerResponse & { fixed: () => string };
    expect(view.fixed).toBe(fixed);
  });

  it('sets properties on the response itself, writes open', () => {
    const res = fakeResponse();
    const view = takeOver(res) as ServerResponse & { locals?: object };
    view.locals = { user: 'ada' };
    view.statusMessage = 'Slow Upstream';
    expect((res as ServerResponse & { locals?: object }).locals).toEqual({ user: 'ada' });
    expect(res.statusMessage).toBe('Slow Upstream');
  });

  it('leaves out a method the response lacks', () => {
    const res = fakeResponse() as unknown as Record<string, unknown>;
    Object.defineProperty(res, 'appendHeader', { value: undefined, writable: true, configurable: true });
    takeOver(res as unknown as ServerResponse);
    expect(res.appendHeader).toBeUndefined();
  });
});
