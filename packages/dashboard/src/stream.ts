import type { ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '@breaker/core';
import type { BreakerView, Monitor } from './monitor.js';
import { SnapshotPages } from './pages.js';
import { SECURITY_HEADERS } from './respond.js';
import { Viewer } from './viewer.js';

/**
 * The Server-Sent Events streams of one dashboard: a snapshot in pages on connect, a state change as it
 * happens, and an update every second (which is also the heartbeat). The one timer runs only while a
 * client is connected, and a client's listeners go when its connection closes.
 */
export class EventStreams {
  readonly #viewers = new Map<ServerResponse, Viewer>();
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
    return this.#viewers.size;
  }

  /** Whether another client may connect. */
  get full(): boolean {
    return this.#viewers.size >= this.#maxClients;
  }

  /** Starts a stream on `res`, beginning with a snapshot of every breaker. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      // Proxies such as nginx would otherwise hold events back in their buffer.
      'x-accel-buffering': 'no',
    });
    const viewers = this.#viewers;
    const viewer = new Viewer(res, new SnapshotPages(this.#monitor, this.#clock));
    viewers.set(res, viewer);
    res.once('close', () => {
      viewer.stop();
      viewers.delete(res);
      if (viewers.size === 0) this.#stop();
    });
    viewer.start();
    this.#start();
  }

  /** Sends a breaker's new state to every client. */
  transition(view: BreakerView): void {
    if (this.#viewers.size > 0)
      this.#broadcast(message('transition', { now: this.#clock.now(), breaker: view }));
  }

  /** Tells every client that a breaker left the registry. */
  remove(name: string): void {
    if (this.#viewers.size > 0) this.#broadcast(message('remove', { name }));
  }

  /** Ends every stream and stops the timer. */
  close(): void {
    for (const [res, viewer] of [...this.#viewers]) {
      viewer.stop();
      res.end();
    }
    this.#viewers.clear();
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
    if (this.#viewers.size === 0) return;
    const second = this.#monitor.second() - 1;
    const breakers = this.#monitor.changes(second);
    const text = message('update', { now: this.#clock.now(), second, breakers });
    for (const viewer of [...this.#viewers.values()]) viewer.tick(text);
    if (this.#viewers.size > 0) this.#start();
  }

  #broadcast(text: string): void {
    for (const viewer of [...this.#viewers.values()]) viewer.send(text);
  }
}

function message(event: string, data: unknown): string {
  // JSON has no raw line breaks, so the data fits on one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
