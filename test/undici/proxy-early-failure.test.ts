import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { TimerHandle } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { afterTest, countsOf, expressGateway, koaGateway, ownAgent, partner, until } from './gateway.js';
import { streamBytes } from './partner.js';

/** What a client saw of one answer, and how it ended. */
interface Outcome {
  status: number | undefined;
  headers: IncomingHttpHeaders;
  body: string;
  ending: 'end' | 'cut' | 'no answer' | 'hang';
  error: string;
}

/** One GET through node:http; `onStatus` runs when the status line arrives, `onData` on each chunk. */
function fetchOutcome(
  port: number,
  path: string,
  hooks: { onStatus?: () => void; onData?: (chunk: Buffer, stop: () => void) => void } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { status: undefined, headers: {}, body: '', ending: 'hang', error: '' };
    let done = false;
    const finish = (ending: Outcome['ending'], error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...outcome, ending, error: error?.message ?? '' });
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish('hang');
    }, 5_000);
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      outcome.status = res.statusCode;
      outcome.headers = res.headers;
      hooks.onStatus?.();
      res.on('data', (chunk: Buffer) => {
        outcome.body += chunk.toString('latin1');
        hooks.onData?.(chunk, () => {
          req.destroy();
          finish('cut');
        });
      });
      res.on('end', () => finish('end'));
      res.on('aborted', () => finish('cut'));
      res.on('error', (error) => finish('cut', error));
      res.on('close', () => finish(res.complete ? 'end' : 'cut'));
    });
    req.on('error', (error) => finish(outcome.status === undefined ? 'no answer' : 'cut', error));
  });
}

/** The target URL of a partner that writes raw bytes as its answer to any request. */
async function rawPartner(answer: string): Promise<string> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => socket.write(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterTest(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/api`;
}

/** A manual clock that counts the timers ever scheduled on it. */
class CountingClock extends ManualClock {
  scheduled = 0;

  override setTimeout(fn: () => void, ms: number): TimerHandle {
    this.scheduled++;
    return super.setTimeout(fn, ms);
  }
}

/** Flushes a `200` with `Content-Length: 100` and no body, and keeps the response for the test. */
function headersOnly(held: ServerResponse[]) {
  return (_req: unknown, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100' });
    res.flushHeaders();
    held.push(res);
  };
}

const PROBLEM_KEYS = ['type', 'title', 'status', 'detail', 'breaker'];

describe.each([
  ['express', expressGateway],
  ['koa', koaGateway],
] as const)('proxy() in %s: a partner that fails right after its headers', (_name, gatewayFor) => {
  it('answers the 502 problem when the partner closes its connection 20 ms after flushing its headers', async () => {
    const upstream = await partner((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100' });
      res.flushHeaders();
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const gateway = await gatewayFor(upstream, { name: 'partner' });
    const outcome = await fetchOutcome(gateway.port, `${gateway.prefix}/x`);
    expect(outcome.error).toBe('');
    expect(outcome).toMatchObject({ status: 502, ending: 'end' });
    expect(outcome.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(outcome.body) as Record<string, unknown>;
    expect(Object.keys(problem).sort()).toEqual([...PROBLEM_KEYS].sort());
    expect(problem).toMatchObject({ status: 502, title: 'Upstream unavailable', breaker: 'partner' });
    expect(outcome.body).not.toMatch(/closed|socket|UND_ERR/i);
    expect(await until(() => countsOf(gateway.handler).failures === 1)).toBe(true);
  });

  it('answers the 502 problem when the partner’s first chunk is malformed', async () => {
    const upstream = await rawPartner(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nnot-a-size\r\nxx\r\n',
    );
    const gateway = await gatewayFor(upstream);
    const outcome = await fetchOutcome(gateway.port, `${gateway.prefix}/x`);
    expect(outcome).toMatchObject({ status: 502, ending: 'end' });
    expect(JSON.parse(outcome.body)).toMatchObject({ status: 502, title: 'Upstream unavailable' });
    expect(outcome.body).not.toMatch(/chunk|parse|UND_ERR/i);
    expect(await until(() => countsOf(gateway.handler).failures === 1)).toBe(true);
  });

  it('sends the status and the bytes so far, then cuts the body, when the partner dies after its first bytes', async () => {
    const upstream = await partner((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100' });
      res.write('0123456789', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const gateway = await gatewayFor(upstream);
    const outcome = await fetchOutcome(gateway.port, `${gateway.prefix}/x`);
    expect(outcome).toMatchObject({ status: 200, body: '0123456789', ending: 'cut' });
    expect(outcome.headers['content-length']).toBe('100');
    expect(await until(() => countsOf(gateway.handler).failures === 1)).toBe(true);
  });

  it('sends the status once the call’s deadline passes without a body, then cuts the body when the partner dies', async () => {
    const clock = new CountingClock();
    const held: ServerResponse[] = [];
    const upstream = await partner(headersOnly(held));
    const gateway = await gatewayFor(upstream, { callTimeout: 1_000, clock });
    let statusArrived = false;
    const pending = fetchOutcome(gateway.port, `${gateway.prefix}/x`, {
      onStatus: () => (statusArrived = true),
    });
    // The call's timer, then the hold's: the proxy has the partner's headers and waits for its body.
    expect(await until(() => clock.scheduled === 2 && held.length === 1)).toBe(true);
    expect(statusArrived).toBe(false);
    clock.advance(1_000);
    expect(await until(() => statusArrived)).toBe(true);
    held[0]!.socket?.destroy();
    const outcome = await pending;
    expect(outcome).toMatchObject({ status: 200, body: '', ending: 'cut' });
    expect(await until(() => countsOf(gateway.handler).failures === 1)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes the status and each chunk on as it comes, without waiting for the rest', async () => {
    let finish = (): void => {};
    const upstream = await partner((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first ');
      finish = () => res.end('last');
    });
    const gateway = await gatewayFor(upstream, { callTimeout: 60_000 });
    const outcome = await fetchOutcome(gateway.port, `${gateway.prefix}/x`, { onData: () => finish() });
    expect(outcome).toMatchObject({ status: 200, body: 'first last', ending: 'end' });
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });

  it("sends an event stream's status at once, and any other status after at most a second without its body", async () => {
    let finish: (() => void)[] = [];
    const upstream = await partner((req, res) => {
      const events = req.url!.endsWith('/events');
      res.writeHead(200, { 'content-type': events ? 'text/event-stream' : 'text/plain' });
      res.flushHeaders();
      finish.push(() => res.end(events ? 'data: late\n\n' : 'late'));
    });
    const gateway = await gatewayFor(upstream, {});
    for (const [path, within] of [
      ['/events', 300],
      ['/slow', 1_300],
    ] as const) {
      finish = [];
      const started = performance.now();
      let statusAfter = Infinity;
      const outcome = fetchOutcome(gateway.port, `${gateway.prefix}${path}`, {
        onStatus: () => {
          statusAfter = performance.now() - started;
          for (const end of finish) end();
        },
      });
      expect(await outcome).toMatchObject({ status: 200, ending: 'end' });
      expect(statusAfter).toBeLessThan(within);
      if (path === '/slow') expect(statusAfter).toBeGreaterThanOrEqual(900);
    }
  });

  it('cancels the partner request and leaves nothing behind when the client leaves while the status is held', async () => {
    const clock = new CountingClock();
    const held: ServerResponse[] = [];
    const upstream = await partner(headersOnly(held));
    const agent = ownAgent();
    const gateway = await gatewayFor(upstream, { callTimeout: 1_000, clock, dispatcher: agent });
    const req = http.get({
      host: '127.0.0.1',
      port: gateway.port,
      path: `${gateway.prefix}/x`,
      agent: false,
    });
    req.on('error', () => {});
    expect(await until(() => clock.scheduled === 2 && held.length === 1)).toBe(true);
    req.destroy();
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    expect(await until(() => countsOf(gateway.handler).ignored === 1)).toBe(true);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
    expect(clock.pendingTimers).toBe(0);
    expect(await until(() => (agent.stats[upstream.origin]?.running ?? 0) === 0)).toBe(true);
  });

  it('cancels the partner request and leaves nothing behind when the client leaves mid-stream', async () => {
    const upstream = await partner(streamBytes(20 * 1024 * 1024, 64 * 1024, 5));
    const agent = ownAgent();
    const gateway = await gatewayFor(upstream, { dispatcher: agent });
    const outcome = await fetchOutcome(gateway.port, `${gateway.prefix}/slow`, {
      onData: (_chunk, stop) => stop(),
    });
    expect(outcome).toMatchObject({ status: 200, ending: 'cut' });
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    expect(await until(() => countsOf(gateway.handler).ignored === 1)).toBe(true);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
    expect(await until(() => (agent.stats[upstream.origin]?.running ?? 0) === 0)).toBe(true);
  });
});
