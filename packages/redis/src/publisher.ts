import type { SharedState } from '@breaker/core';
import type { NameEntry } from './session.js';

/** First and last wait before a failed publication is sent again; it doubles in between. */
const RETRY_MIN = 25;
const RETRY_MAX = 2_000;
/** Replicas publish the half-open that their open timer brings within this spread; the first one is enough. */
const HALF_OPEN_SPREAD_MS = 200;
/**
 * Replicas publish a trip of their own rules within this spread: when a shared dependency fails, many
 * trip at the same moment, and the first trip heard makes the others' needless.
 */
const TRIP_SPREAD_MS = 20;
const MANUAL = new Set(['force-open', 'reset', 'disable']);

/** How long a replica may wait before it publishes a change: 0 for those no other replica makes too. */
function spread(state: SharedState): number {
  if (state.state === 'half-open' && state.reason === 'timeout-elapsed') return HALF_OPEN_SPREAD_MS;
  if (state.state === 'open' && !MANUAL.has(state.reason)) return TRIP_SPREAD_MS;
  return 0;
}

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
 * When a replica's state changes go to Redis: at once, but for those that many replicas make at the
 * same moment (the half-open that the open timer brings, a trip when a shared dependency fails), for
 * which each waits a random moment and skips its own once another's has been heard; and again shortly
 * after Redis refused one (a failover, a full Redis).
 */
export class Publisher {
  readonly #host: PublishHost;
  /** Names whose last publication failed, to publish again soon. */
  readonly #unsent = new Set<string>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelay = RETRY_MIN;
  /** Publications waiting out their random moment, each with what sends it. */
  readonly #spread = new Map<ReturnType<typeof setTimeout>, () => void>();
  #closed = false;

  constructor(host: PublishHost) {
    this.#host = host;
  }

  publish(name: string, entry: NameEntry, state: SharedState): void {
    if (this.#closed || !this.#host.connected()) return;
    const within = spread(state);
    if (within === 0) {
      this.#send(name, entry, state);
      return;
    }
    const send = (): void => {
      this.#spread.delete(timer);
      // Superseded meanwhile, by another replica's same change or any newer change heard or made here.
      if (entry.remoteRound >= state.round || entry.lastLocal !== state) return;
      if (this.#host.connected()) this.#send(name, entry, state);
    };
    const timer = setTimeout(send, Math.random() * within);
    timer.unref();
    this.#spread.set(timer, send);
  }

  /** Sends now what waits out its random moment: the store is closing, and nothing may be left unsaid. */
  flush(): void {
    for (const [timer, send] of [...this.#spread]) {
      clearTimeout(timer);
      send();
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    for (const timer of this.#spread.keys()) clearTimeout(timer);
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
