import { randomUUID } from 'node:crypto';
import type { OutcomeBatch, SharedState, StoreReplica, StoreSession } from '@breaker/core';

/** What a session needs of its store. */
export interface SessionHost {
  readonly connected: boolean;
  publish(name: string, shared: NameEntry, state: SharedState): void;
  report(name: string, replica: StoreReplica, batch: OutcomeBatch): void;
  leaseProbe(name: string, id: string, limit: number, ttlMs: number): Promise<boolean>;
  releaseProbe(name: string, id: string): void;
  leave(name: string, replica: StoreReplica): void;
  fail(error: unknown): void;
}

/** What the store keeps for one breaker name. */
export interface NameEntry {
  replicas: Set<StoreReplica>;
  /** The newest state a replica here published, for resync after an outage. */
  lastLocal: SharedState | undefined;
  /** Had traffic since the last reconciliation, or was last seen away from closed. */
  active: boolean;
}

/** One breaker's connection to the store: its reports, publications and fleet trial permits. */
export class RedisSession implements StoreSession {
  readonly #host: SessionHost;
  readonly #name: string;
  readonly #replica: StoreReplica;
  readonly #entry: NameEntry;
  /** Fleet permits taken and not yet handed to a call, with their expiry. */
  #ready: { id: string; expires: number }[] = [];
  /** Fleet permits held by calls in flight. */
  #held: string[] = [];
  /** The lease asked for and not yet answered: `true` taken, `false` refused, `undefined` Redis failed. */
  #leasing: Promise<boolean | undefined> | undefined;
  #closed = false;

  constructor(host: SessionHost, name: string, replica: StoreReplica, entry: NameEntry) {
    this.#host = host;
    this.#name = name;
    this.#replica = replica;
    this.#entry = entry;
  }

  publish(state: SharedState): void {
    if (this.#closed) return;
    // Permits belong to the round that granted them.
    this.#ready = [];
    this.#held = [];
    this.#host.publish(this.#name, this.#entry, state);
  }

  report(batch: OutcomeBatch): void {
    if (this.#closed) return;
    this.#entry.active = true;
    this.#host.report(this.#name, this.#replica, batch);
  }

  tryAcquireProbe(limit: number, ttlMs: number): boolean {
    if (this.#closed) return false;
    // Without Redis, local state decides: a call local rules allow is never refused for the store's sake.
    if (!this.#host.connected) return true;
    if (this.#take()) return true;
    // A permit leased now serves the next call of a caller that cannot wait.
    this.#lease(limit, ttlMs);
    return false;
  }

  async acquireProbe(limit: number, ttlMs: number): Promise<boolean> {
    if (this.#closed) return false;
    if (!this.#host.connected) return true;
    if (this.#take()) return true;
    const answer = await this.#lease(limit, ttlMs);
    // Redis failed to answer: as without Redis, local rules decide.
    return answer === undefined || this.#take();
  }

  releaseProbe(): void {
    const id = this.#held.shift();
    if (id !== undefined) this.#host.releaseProbe(this.#name, id);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.#held) this.#host.releaseProbe(this.#name, id);
    for (const { id } of this.#ready) this.#host.releaseProbe(this.#name, id);
    this.#host.leave(this.#name, this.#replica);
  }

  /** Hands a leased permit that has not expired to a call. */
  #take(): boolean {
    const now = Date.now();
    while (this.#ready.length > 0) {
      const permit = this.#ready.shift()!;
      if (permit.expires > now) {
        this.#held.push(permit.id);
        return true;
      }
    }
    return false;
  }

  /** Asks the fleet for one permit, unless a request is already out; settles when it is answered. */
  #lease(limit: number, ttlMs: number): Promise<boolean | undefined> {
    if (this.#leasing !== undefined) return this.#leasing;
    this.#entry.active = true;
    const id = randomUUID();
    const asked = Date.now();
    this.#leasing = this.#host
      .leaseProbe(this.#name, id, limit, ttlMs)
      .then(
        (taken) => {
          if (taken && this.#closed) this.#host.releaseProbe(this.#name, id);
          else if (taken) this.#ready.push({ id, expires: asked + ttlMs });
          return taken;
        },
        (error: unknown) => {
          this.#host.fail(error);
          return undefined;
        },
      )
      .finally(() => {
        this.#leasing = undefined;
      });
    return this.#leasing;
  }
}
