import type { ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '@breaker/core';
import { HISTORY_SECONDS, Monitor, type BreakerView } from './monitor.js';
import { SECURITY_HEADERS } from './respond.js';

/** A client that reads slower than this many buffered bytes is dropped rather than buffered without end. */
const MAX_BUFFERED = 1024 * 1024;
/** How long a browser waits before reconnecting a dropped stream. */
const RETRY_MS = 2_000;

/**
 * The Server-Sent Events streams of one dashboard: a snapshot on connect, a state change as it happens,
 * and an update every second (which is also the heartbeat). The one timer runs only while a client is
 * connected, and a client's listener goes when its connection closes.
 */
export class EventStreams {
  readonly #clients = new Set<ServerResponse>();
  readonly #monitor: Monitor;
  readonly #clock: Clock;
  readonly #maxClients: number;
  #timer: TimerHandle | undefined;

  constructor(monitor: Monitor, clock: Clock, maxClients: number) {
    this.#monitor = monitor;
    this.#clock = clock;
    this.#maxClients = maxClients;
  }

  /** Open streams. */
  get size(): number {
    return this.#clients.size;
  }

  /** Whether another client may connect. */
  get full(): boolean {
    return this.#clients.size >= this.#maxClients;
  }

  /** Starts a stream on `res`, beginning with a snapshot of every breaker. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      // Proxies such as nginx would otherwise hold events back in their buffer.
      'x-accel-buffering': 'no',
    });
    const clients = this.#clients;
    clients.add(res);
    const onClose = (): void => {
      clients.delete(res);
      if (clients.size === 0) this.#stop();
    };
    res.once('close', onClose);
    const second = this.#monitor.second() - 1;
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.#send(
      res,
      message('snapshot', {
        now: this.#clock.now(),
        second,
        historySeconds: HISTORY_SECONDS,
        breakers: this.#monitor.snapshot(second),
      }),
    );
    this.#start();
  }

  /** Sends a breaker's new state to every client. */
  transition(view: BreakerView): void {
    if (this.#clients.size > 0)
      this.#broadcast(message('transition', { now: this.#clock.now(), breaker: view }));
  }

  /** Tells every client that a breaker left the registry. */
  remove(name: string): void {
    if (this.#clients.size > 0) this.#broadcast(message('remove', { name }));
  }

  /** Ends every stream and stops the timer. */
  close(): void {
    for (const res of [...this.#clients]) res.end();
    this.#clients.clear();
    this.#stop();
  }

  #start(): void {
    if (this.#timer !== undefined) return;
    // Ticks fall just after each whole second, so each update carries a finished second.
    const now = this.#clock.now();
    this.#timer = this.#clock.setTimeout(() => this.#tick(), 1_000 - (now % 1_000), { unref: true });
  }

  #stop(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#clients.size === 0) return;
    const second = this.#monitor.second() - 1;
    const breakers = this.#monitor.changes(second);
    this.#broadcast(message('update', { now: this.#clock.now(), second, breakers }));
    if (this.#clients.size > 0) this.#start();
  }

  #broadcast(text: string): void {
    for (const res of [...this.#clients]) this.#send(res, text);
  }

  #send(res: ServerResponse, text: string): void {
    if (res.destroyed || res.writableEnded) return;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED) res.destroy();
  }
}

function message(event: string, data: unknown): string {
  // JSON has no raw line breaks, so the data fits on one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
