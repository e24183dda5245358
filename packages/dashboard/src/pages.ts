import type { Clock } from '@breaker/core';
import { HISTORY_SECONDS, type Monitor, type Watched } from './monitor.js';

/** A page of the snapshot stops taking breakers once it holds this many bytes of them. */
export const PAGE_BYTES = 64 * 1024;

/**
 * The snapshot a new client starts with, cut into events of about {@link PAGE_BYTES}: `snapshot` first,
 * then `snapshot-page`s, the last one with `done: true`. The breakers are those of the registry when the
 * client connected, those not closed first; each page is read from the breakers when it is sent, so it
 * is never older than the updates before it, and a breaker gone by then is left out.
 */
export class SnapshotPages {
  readonly #monitor: Monitor;
  readonly #clock: Clock;
  readonly #roster: Watched[];
  #next = 0;
  #sent = 0;

  constructor(monitor: Monitor, clock: Clock) {
    this.#monitor = monitor;
    this.#clock = clock;
    this.#roster = monitor.roster();
  }

  /** The next page, as a Server-Sent Event, or `undefined` once the last one is out. */
  next(): string | undefined {
    const roster = this.#roster;
    if (this.#sent > 0 && this.#next >= roster.length) return undefined;
    const second = this.#monitor.second() - 1;
    const breakers: string[] = [];
    let bytes = 0;
    while (this.#next < roster.length && bytes < PAGE_BYTES) {
      const entry = this.#monitor.entry(roster[this.#next++]!, second);
      if (entry === undefined) continue;
      const json = JSON.stringify(entry);
      breakers.push(json);
      bytes += Buffer.byteLength(json) + 1;
    }
    const done = this.#next >= roster.length;
    const now = this.#clock.now();
    const head =
      this.#sent++ === 0
        ? `"now":${now},"second":${second},"historySeconds":${HISTORY_SECONDS},"total":${roster.length}`
        : `"now":${now},"second":${second}`;
    const event = this.#sent === 1 ? 'snapshot' : 'snapshot-page';
    // JSON has no raw line breaks, so the data fits on one `data:` line.
    return `event: ${event}\ndata: {${head},"done":${done},"breakers":[${breakers.join(',')}]}\n\n`;
  }
}
