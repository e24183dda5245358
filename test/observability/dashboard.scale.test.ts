// The dashboard's event stream with registries of thousands of breakers, over real sockets.
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry, type CircuitBreaker } from '@breaker/core';
import { ManualClock } from '@breaker/core/testing';
import { dashboard, type DashboardHandler } from '@breaker/dashboard';
import { readEvents, type EventReader, type ServerEvent } from './sse.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Started {
  url: string;
  port: number;
  handler: DashboardHandler;
  registry: BreakerRegistry;
  breakers: CircuitBreaker[];
  clock: ManualClock;
  /** Every response the server made, in order. */
  responses: ServerResponse[];
}

const nameOf = (i: number) => `partner-api/tenant-${String(i).padStart(5, '0')}`;

/** A dashboard on a plain server over a registry holding `size` breakers. */
async function start(size: number): Promise<Started> {
  const clock = new ManualClock();
  const registry = new BreakerRegistry({
    maxSize: size,
    defaults: { failureThreshold: 2, timeout: 10_000, clock },
  });
  const breakers = Array.from({ length: size }, (_, i) => registry.get(nameOf(i)));
  const handler = dashboard({ registry, clock });
  const responses: ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    responses.push(res);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    () => handler.close(),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, handler, registry, breakers, clock, responses };
}

async function open(url: string): Promise<EventReader> {
  const reader = await readEvents(`${url}/events`);
  cleanups.push(() => reader.close());
  return reader;
}

/** Waits, a few milliseconds at a time, for `condition`; gives up after two seconds. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

interface Page {
  second: number;
  done: boolean;
  total?: number;
  breakers: { name: string; state: string; history?: number[][]; transitions: unknown[] }[];
}

/** Reads a whole snapshot: the `snapshot` event and its `snapshot-page`s up to the one marked done. */
async function readSnapshot(stream: EventReader): Promise<ServerEvent[]> {
  const first = await stream.next(5_000);
  expect(first.event).toBe('snapshot');
  const pages = [first];
  while (!(pages.at(-1)!.data as Page).done) {
    const page = await stream.next(5_000);
    expect(page.event).toBe('snapshot-page');
    pages.push(page);
  }
  return pages;
}

const fail = (breaker: CircuitBreaker) =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});

describe('the event stream of a full registry', () => {
  it.each([1_000, 10_000])(
    'gives a client %i breakers in pages, keeps it connected and goes on with live changes',
    async (size) => {
      const { url, handler, breakers, clock } = await start(size);
      // Some history for every hundredth breaker, and one open breaker far down the registry.
      for (let i = 0; i < size; i += 100) await breakers[i]!.fire(() => 'ok');
      const tripped = breakers[size - 7]!;
      await fail(tripped);
      await fail(tripped);
      clock.advance(1_000);

      const stream = await open(url);
      const pages = await readSnapshot(stream);
      const first = pages[0]!.data as Page;
      expect(first.total).toBe(size);
      // Pages of about 64 KiB each, whatever the size of the registry.
      for (const page of pages) expect(JSON.stringify(page.data).length).toBeLessThan(70 * 1024);
      const received = pages.flatMap((page) => (page.data as Page).breakers);
      expect(new Set(received.map((b) => b.name)).size).toBe(size);
      // The open breaker comes first; history only for breakers that had calls.
      expect(first.breakers[0]).toMatchObject({ name: tripped.name, state: 'open' });
      expect(received.filter((b) => b.history !== undefined)).toHaveLength(size / 100 + 1);
      expect(received.find((b) => b.name === nameOf(100))!.history!.at(-1)).toEqual([1, 0, 0]);

      // Still connected: live changes arrive.
      expect(handler.clients).toBe(1);
      const next = breakers[3]!;
      await fail(next);
      await fail(next);
      const transition = await stream.nextOf('transition');
      expect(transition.data).toMatchObject({ breaker: { name: next.name, state: 'open' } });
      clock.advance(1_000);
      const update = (await stream.nextOf('update')).data as {
        breakers: { name: string; point: number[] }[];
      };
      expect(update.breakers.find((b) => b.name === next.name)).toMatchObject({ point: [0, 2, 0] });
      clock.advance(1_000);
      await stream.nextOf('update');
      expect(stream.response.destroyed).toBe(false);
      expect(handler.clients).toBe(1);
    },
  );

  it('still drops a client that does not read, once over the limit at an update, and leaves nothing behind', async () => {
    const { url, port, handler, breakers, clock, responses } = await start(10_000);
    const reader = await open(url);
    await readSnapshot(reader);

    // A client that sends its request and never reads a byte of the answer.
    const stalled = net.connect(port, '127.0.0.1');
    stalled.pause();
    cleanups.push(() => void stalled.destroy());
    stalled.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    await until(() => handler.clients === 2);
    const res = responses.at(-1)!;
    const closeListeners = res.listenerCount('close');

    // Every breaker busy: each update lists all 10,000 (over 1 MB). The reader takes them all.
    const busySecond = async (): Promise<void> => {
      await Promise.all(breakers.map((breaker) => breaker.fire(() => 'ok')));
      clock.advance(1_000);
      await reader.nextOf('update', 5_000);
    };
    await busySecond();
    // Neither its snapshot nor its first update dropped it, whatever their size.
    expect(res.destroyed).toBe(false);
    let updates = 1;
    while (!res.destroyed && updates < 30) {
      // However long it stays, it holds one listener of each kind and there is one timer.
      expect(res.listenerCount('drain')).toBeLessThanOrEqual(1);
      expect(res.listenerCount('close')).toBe(closeListeners);
      expect(clock.pendingTimers).toBe(1);
      await busySecond();
      updates++;
    }
    // Dropped once what it left unread passed the limit when an update was due.
    expect(res.destroyed).toBe(true);
    await until(() => handler.clients === 1);
    expect(res.listenerCount('drain')).toBe(0);

    // The reader is unaffected, and the last client to leave takes the timer with it.
    clock.advance(1_000);
    expect((await reader.nextOf('update')).event).toBe('update');
    expect(reader.response.destroyed).toBe(false);
    reader.close();
    await until(() => handler.clients === 0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('drops a client that does not read at once when a burst of changes leaves it 16 MiB behind', async () => {
    const { port, handler, breakers, clock, responses } = await start(10_000);
    const stalled = net.connect(port, '127.0.0.1');
    stalled.pause();
    cleanups.push(() => void stalled.destroy());
    stalled.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await until(() => handler.clients === 1);
    const res = responses.at(-1)!;

    // Each round sends every breaker's transition, its list of changes growing: no update in between.
    let rounds = 0;
    while (!res.destroyed && rounds < 20) {
      for (const breaker of breakers) breaker.forceOpen();
      await new Promise((resolve) => setImmediate(resolve));
      for (const breaker of breakers) breaker.reset();
      await new Promise((resolve) => setImmediate(resolve));
      rounds++;
    }
    expect(res.destroyed).toBe(true);
    await until(() => handler.clients === 0);
    expect(clock.pendingTimers).toBe(0);
    expect(res.listenerCount('drain')).toBe(0);
  });
});
