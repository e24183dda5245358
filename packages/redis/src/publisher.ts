import type { SharedState } from '@breaker/core';
import type { NameEntry } from './session.js';

/** First and last wait before a failed publication is sent again; it doubles in between. */
const RETRY_MIN = 25;
const RETRY_MAX = 2_000;
/** Replicas publish the half-open that their open timer brings within this spread; the first one is enough. */
const HALF_OPEN_SPREAD_MS = 200;

/** What a {@link Publisher} needs of its store. */
export interface PublishHost {
  connected(): boolean;
  /** Runs the publish script; settles when Redis answered. */
  store(name: string, entry: NameEntry, state: SharedState): Promise<unknown>;
  /** Publishes the newest local state of `name` again and reads the fleet's back. */
  resync(name: string): void;
  fail(error: unknown): void;
}

/**
 * When a replica's state changes go to Redis: at once, but for the half-open that the open timer brings,
 * which every replica reaches at the same moment, so each waits a random moment and skips it once
 * another's has been heard; and again shortly after Redis refused one (a failover, a full Redis).
 */
export class Publisher {
  readonly #host: PublishHost;
  /** Names whose last publication failed, to publish again soon. */
  readonly #unsent = new Set<string>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelay = RETRY_MIN;
  readonly #spread = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(host: PublishHost) {
    this.#host = host;
  }

  publish(name: string, entry: NameEntry, state: SharedState): void {
    if (this.#closed || !this.#host.connected()) return;
    if (state.state !== 'half-open' || state.reason !== 'timeout-elapsed') {
      this.#send(name, entry, state);
      return;
    }
    const timer = setTimeout(() => {
      this.#spread.delete(timer);
      // Superseded meanwhile, by another replica's half-open or any newer change heard or made here.
      if (entry.remoteRound >= state.round || entry.lastLocal !== state) return;
      if (this.#host.connected()) this.#send(name, entry, state);
    }, Math.random() * HALF_OPEN_SPREAD_MS);
    timer.unref();
    this.#spread.add(timer);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    for (const timer of this.#spread) clearTimeout(timer);
    this.#spread.clear();
  }

  #send(name: string, entry: NameEntry, state: SharedState): void {
    this.#host.store(name, entry, state).then(
      () => {
        this.#unsent.delete(name);
        if (this.#unsent.size === 0) this.#retryDelay = RETRY_MIN;
      },
      (error: unknown) => {
        this.#host.fail(error);
        this.#unsent.add(name);
        this.#scheduleRetry();
      },
    );
  }

  /** A state change that did not reach Redis goes again shortly, not only at the next reconciliation. */
  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const names = [...this.#unsent];
      this.#unsent.clear();
      this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX);
      for (const name of names) this.#host.resync(name);
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }
}
