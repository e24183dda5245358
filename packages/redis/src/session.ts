import { randomUUID } from 'node:crypto';
import type { OutcomeBatch, SharedState, StoreReplica, StoreSession } from '@breaker/core';
import type { ReportState } from './reports.js';

/** What a session needs of its store. */
export interface SessionHost {
  readonly connected: boolean;
  publish(name: string, shared: NameEntry, state: SharedState): void;
  report(entry: NameEntry, batch: OutcomeBatch): void;
  leaseProbe(name: string, id: string, limit: number, ttlMs: number): Promise<boolean>;
  releaseProbe(name: string, id: string): void;
  leave(name: string, replica: StoreReplica): void;
  fail(error: unknown): void;
}

/** What the store keeps for one breaker name. */
export interface NameEntry extends ReportState {
  replicas: Set<StoreReplica>;
  /** The newest state a replica here published, for resync after an outage. */
  lastLocal: SharedState | undefined;
  /** The newest round heard from the fleet. */
  remoteRound: number;
  /** Had traffic since the last reconciliation, or was last seen away from closed. */
  active: boolean;
  /** After the fleet refused a trial permit, none is asked for before this time... */
  leaseAfter: number;
  /** ...and the wait after the next refusal (it doubles, and starts again at a state change). */
  leaseBackoff: number;
}

/** The first wait before a trial permit is asked for again after a refusal, and the longest. */
export const LEASE_BACKOFF_MIN = 100;
const LEASE_BACKOFF_MAX = 1_000;

export function newEntry(): NameEntry {
  return {
    replicas: new Set(),
    lastLocal: undefined,
    remoteRound: 0,
    active: false,
    leaseAfter: 0,
    leaseBackoff: LEASE_BACKOFF_MIN,
    pending: undefined,
    dueAt: Infinity,
    fleet: undefined,
  };
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
    // Permits belong to the round that granted them; a new round may ask at once.
    this.#ready = [];
    this.#held = [];
    this.#entry.leaseAfter = 0;
    this.#entry.leaseBackoff = LEASE_BACKOFF_MIN;
    this.#host.publish(this.#name, this.#entry, state);
  }

  report(batch: OutcomeBatch): void {
    if (this.#closed) return;
    this.#entry.active = true;
    this.#host.report(this.#entry, batch);
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

  /**
   * Asks the fleet for one permit, unless a request is already out; settles when it is answered.
   * After a refusal the fleet is not asked again for a short, growing while (the permits are busy
   * with trial calls whose outcome every replica hears of), so a busy half-open breaker does not
   * turn each of its calls into a Redis script.
   */
  #lease(limit: number, ttlMs: number): Promise<boolean | undefined> {
    if (this.#leasing !== undefined) return this.#leasing;
    const entry = this.#entry;
    entry.active = true;
    const asked = Date.now();
    if (asked < entry.leaseAfter) return Promise.resolve(false);
    const id = randomUUID();
    this.#leasing = this.#host
      .leaseProbe(this.#name, id, limit, ttlMs)
      .then(
        (taken) => {
          if (taken) {
            entry.leaseBackoff = LEASE_BACKOFF_MIN;
            if (this.#closed) this.#host.releaseProbe(this.#name, id);
            else this.#ready.push({ id, expires: asked + ttlMs });
          } else {
            entry.leaseAfter = Date.now() + Math.min(entry.leaseBackoff, ttlMs);
            entry.leaseBackoff = Math.min(entry.leaseBackoff * 2, LEASE_BACKOFF_MAX);
          }
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
