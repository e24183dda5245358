import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './faultProxy.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error('timed out waiting');
    await sleep(5);
  }
}

/** A server that answers each chunk with 'ok:' + the chunk; `push()` sends to every client unasked. */
async function startEcho() {
  const sockets = new Set<net.Socket>();
  let received = '';
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      received += String(chunk);
      socket.write(`ok:${chunk}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(resolve);
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    received: () => received,
    push: (text: string) => sockets.forEach((socket) => socket.write(text)),
  };
}

async function setup(): Promise<{ echo: Awaited<ReturnType<typeof startEcho>>; proxy: FaultProxy }> {
  const echo = await startEcho();
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: echo.port });
  cleanup.push(() => proxy.close());
  return { echo, proxy };
}

/** A client of the proxy: what it received, and how it ended (the error code, if any). */
function connect(proxy: FaultProxy) {
  const socket = net.connect({ host: proxy.host, port: proxy.port });
  cleanup.push(() => socket.destroy());
  let text = '';
  let code: string | undefined;
  let closed = false;
  socket.on('data', (chunk: Buffer) => (text += String(chunk)));
  socket.on('error', (error: NodeJS.ErrnoException) => (code = error.code));
  const ended = new Promise<string | undefined>((resolve) =>
    socket.on('close', () => {
      closed = true;
      resolve(code);
    }),
  );
  return { socket, text: () => text, closed: () => closed, ended };
}

/** Sends `text` and waits for its answer. */
async function ask(client: ReturnType<typeof connect>, text: string): Promise<void> {
  const before = client.text();
  client.socket.write(text);
  await until(() => client.text() === `${before}ok:${text}`);
}

describe('fault proxy', () => {
  it('pass: forwards both ways, all of a large write', async () => {
    const { echo, proxy } = await setup();
    const client = connect(proxy);
    await ask(client, 'hello');
    expect(proxy.connections).toBe(1);
    expect(proxy.accepted).toBe(1);

    const big = 'x'.repeat(4 * 1024 * 1024);
    client.socket.write(big);
    await until(() => echo.received().length === 'hello'.length + big.length);
    await until(() => client.text().replaceAll('ok:', '').length === 'hello'.length + big.length);
  });

  it('refuse: resets new connections at once, without data; open ones go on', async () => {
    const { echo, proxy } = await setup();
    const open = connect(proxy);
    await ask(open, 'before');

    proxy.mode('refuse');
    const refused = connect(proxy);
    expect(await refused.ended).toBe('ECONNRESET');
    expect(refused.text()).toBe('');
    expect(proxy.accepted).toBe(2);
    expect(echo.sockets.size).toBe(1); // no upstream connection for the refused one
    await ask(open, 'after');
    expect(echo.received()).toBe('beforeafter');
    await until(() => proxy.connections === 1);
  });

  it('reset: resets a connection when its server answers, new ones too', async () => {
    const { echo, proxy } = await setup();
    const client = connect(proxy);
    await ask(client, 'one');

    proxy.mode('reset');
    client.socket.write('two');
    expect(await client.ended).toBe('ECONNRESET');
    expect(client.text()).toBe('ok:one');
    expect(echo.received()).toBe('onetwo');

    const late = connect(proxy);
    late.socket.write('three');
    expect(await late.ended).toBe('ECONNRESET');
    expect(late.text()).toBe('');
    expect(echo.received()).toBe('onetwothree');
    await until(() => proxy.connections === 0 && echo.sockets.size === 0);
  });

  it('reset: lets afterBytes through first', async () => {
    const { proxy } = await setup();
    const client = connect(proxy);
    await until(() => proxy.connections === 1);
    proxy.mode('reset', { afterBytes: 4 });
    await ask(client, 'a'); // 'ok:a', 4 bytes: within the budget
    client.socket.write('b');
    expect(await client.ended).toBe('ECONNRESET');
    expect(client.text()).toBe('ok:a');
  });

  it('resetAll: resets every open connection and keeps listening', async () => {
    const { proxy } = await setup();
    const clients = [connect(proxy), connect(proxy)];
    for (const client of clients) await ask(client, 'hi');
    proxy.resetAll();
    for (const client of clients) expect(await client.ended).toBe('ECONNRESET');
    await ask(connect(proxy), 'again');
    expect(proxy.accepted).toBe(3);
  });

  it('stall: holds data both ways, on open and new connections, until pass delivers it', async () => {
    const { echo, proxy } = await setup();
    const client = connect(proxy);
    await ask(client, 'hi');

    proxy.mode('stall');
    client.socket.write('a');
    await sleep(20);
    client.socket.write('b');
    echo.push('down');
    const late = connect(proxy);
    late.socket.write('new');
    await sleep(200);
    expect(client.text()).toBe('ok:hi');
    expect(late.text()).toBe('');
    expect(echo.received()).toBe('hi');

    proxy.mode('pass');
    await until(() => client.text().endsWith('b'));
    expect(client.text()).toMatch(/^ok:hidownok:a(ok:)?b$/); // 'a' and 'b' may reach the server as one chunk
    await until(() => late.text() === 'ok:new');
    expect(echo.received().replace('new', '')).toBe('hiab');
  });

  it('slow: delays every chunk each way by delayMs, in order', async () => {
    const { echo, proxy } = await setup();
    const client = connect(proxy);
    await ask(client, 'hi');

    proxy.mode('slow', { delayMs: 100 });
    const start = performance.now();
    await ask(client, 'x');
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(195); // 100 ms there, 100 ms back
    expect(elapsed).toBeLessThan(1_500);

    client.socket.write('a');
    await sleep(10);
    client.socket.write('b');
    await sleep(10);
    client.socket.write('c');
    await until(() => echo.received() === 'hixabc');
  });

  it('close: destroys every socket, stops listening, drops what is still held', async () => {
    const { echo, proxy } = await setup();
    const clients = [connect(proxy), connect(proxy)];
    for (const client of clients) await ask(client, 'hi');
    proxy.mode('slow', { delayMs: 100 });
    clients[0]!.socket.write('late');

    await proxy.close();
    expect(proxy.connections).toBe(0);
    for (const client of clients) await client.ended;
    await until(() => echo.sockets.size === 0);
    expect(await connect(proxy).ended).toBe('ECONNREFUSED');
    await sleep(150);
    expect(echo.received()).toBe('hihi');
  });
});
