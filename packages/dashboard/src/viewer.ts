import type { ServerResponse } from 'node:http';
import type { SnapshotPages } from './pages.js';

/**
 * A client still holding more than this many bytes it has not read when the next once-a-second update
 * is due is dropped: it had at least a second to take them.
 */
export const MAX_UNREAD_BYTES = 1024 * 1024;
/** A client this far behind at any moment is dropped at once, so that a burst of events cannot pile up. */
export const MAX_UNREAD_BURST_BYTES = 16 * 1024 * 1024;
/** How long a browser waits before reconnecting a dropped stream. */
const RETRY_MS = 2_000;

/**
 * One open event stream. Its snapshot goes out a page at a time, the next page only once the connection
 * has taken the previous one (`write()` returned `true`, or `'drain'`), so a snapshot never waits in memory.
 * What the client has not read is what `res.writableLength` still holds.
 */
export class Viewer {
  readonly #res: ServerResponse;
  #pages: SnapshotPages | undefined;
  readonly #onDrain = (): void => this.#pump();

  constructor(res: ServerResponse, pages: SnapshotPages) {
    this.#res = res;
    this.#pages = pages;
  }

  /** Sends the reconnection delay and the snapshot's pages. */
  start(): void {
    this.#res.write(`retry: ${RETRY_MS}\n\n`);
    this.#pump();
  }

  /** Sends an event as it happens, unless the client is too far behind. */
  send(text: string): void {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    res.write(text);
    if (res.writableLength > MAX_UNREAD_BURST_BYTES) this.#drop();
  }

  /** Sends the once-a-second update, or drops the client if it has not read what came before. */
  tick(text: string): void {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > MAX_UNREAD_BYTES) return this.#drop();
    this.send(text);
  }

  /** Stops sending pages; called when the connection closes. */
  stop(): void {
    this.#pages = undefined;
    this.#res.off('drain', this.#onDrain);
  }

  #pump(): void {
    const res = this.#res;
    for (;;) {
      const pages = this.#pages;
      if (pages === undefined || res.destroyed || res.writableEnded) return;
      const page = pages.next();
      if (page === undefined) {
        this.#pages = undefined;
        return;
      }
      if (!res.write(page)) {
        res.once('drain', this.#onDrain);
        return;
      }
    }
  }

  #drop(): void {
    this.stop();
    this.#res.destroy();
  }
}
