import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { TransitionReason } from './events.js';
import type { ResolvedOptions } from './options.js';
import type { BreakerSnapshot } from './snapshot.js';

/** A breaker's state as replicas share it: a snapshot plus why and where it changed. */
export interface SharedState extends BreakerSnapshot {
  reason: TransitionReason;
  /** Id of the replica that made the change. */
  origin: string;
}

/** Outcome counts a replica gathered since its last report. */
export interface OutcomeBatch {
  calls: number;
  failures: number;
  slow: number;
}

/** The breaker's side of a store connection: what the store may call. */
export interface StoreReplica {
  /** A unique id for this breaker instance. */
  readonly id: string;
  /** The breaker's options, for a store that applies thresholds fleet-wide. */
  readonly options: ResolvedOptions;
  /** A state decided elsewhere; the breaker adopts it when its round is newer than its own. */
  applyRemote(state: SharedState): void;
  /** The store failed to reach its backend; the breaker keeps working on local state. */
  reportError(error: unknown): void;
}

/** The store's side of a connection for one breaker name. Every method returns at once. */
export interface StoreSession {
  /** Shares a state change made by this replica. */
  publish(state: SharedState): void;
  /** Adds this replica's outcome counts to the shared window (called in batches, never per call). */
  report(batch: OutcomeBatch): void;
  /**
   * Takes one of the fleet's `limit` half-open trial permits, which expires after `ttlMs`
   * if it is never released; `false` when none is free (or not known to be free yet).
   */
  tryAcquireProbe(limit: number, ttlMs: number): boolean;
  /**
   * Optional: asks the fleet now for one of its `limit` trial permits, when `tryAcquireProbe` could
   * not tell at once. Settles within a bounded, short time; `true` when the permit is taken (it is
   * then given back with {@link StoreSession.releaseProbe}). A rejection lets the call through on
   * local rules, as a store that cannot be reached does.
   */
  acquireProbe?(limit: number, ttlMs: number): Promise<boolean>;
  /** Gives back a permit taken with {@link StoreSession.tryAcquireProbe}. */
  releaseProbe(): void;
  /** Ends the connection; later calls do nothing. */
  close(): void;
}

/** Shares breaker state between breakers of the same name, in one process or across a fleet. */
export interface StateStore {
  /** Connects a breaker, which then publishes its changes and reports its counts here. */
  connect(name: string, replica: StoreReplica): StoreSession;
}

interface Entry {
  state: SharedState | undefined;
  replicas: Set<StoreReplica>;
  probes: { session: object; expires: number }[];
  totals: { calls: number; failures: number; slow: number };
}

/** What a {@link MemoryStore} holds for one breaker name. */
export interface MemoryStoreEntry {
  state: SharedState | undefined;
  replicas: number;
  probesInUse: number;
  totals: OutcomeBatch;
}

/**
 * A store in this process's memory. Breakers of the same name on one `MemoryStore` act as one:
 * a state change reaches the others on the next microtask, and half-open permits are shared.
 * A breaker without a store keeps the same rules to itself.
 */
export class MemoryStore implements StateStore {
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  /** Connects a breaker; a newer shared state than the breaker's is delivered to it at once. */
  connect(name: string, replica: StoreReplica): StoreSession {
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      entry = {
        state: undefined,
        replicas: new Set(),
        // Stryker disable next-line ArrayDeclaration: every reader drops a probe without a session or expiry first
        probes: [],
        totals: { calls: 0, failures: 0, slow: 0 },
      };
      this.#entries.set(name, entry);
    }
    const current = entry;
    current.replicas.add(replica);
    if (current.state !== undefined) {
      const state = current.state;
      queueMicrotask(() => replica.applyRemote(state));
    }
    const clock = this.#clock;
    const entries = this.#entries;
    let closed = false;
    const session: StoreSession = {
      publish(state) {
        if (closed) return;
        if (current.state !== undefined && current.state.round >= state.round) return;
        current.state = state;
        // Trial permits belong to the round that granted them.
        // Stryker disable next-line ArrayDeclaration: every reader drops a probe without a session or expiry first
        current.probes = [];
        for (const other of current.replicas) {
          if (other !== replica) queueMicrotask(() => other.applyRemote(state));
        }
      },
      report(batch) {
        if (closed) return;
        current.totals.calls += batch.calls;
        current.totals.failures += batch.failures;
        current.totals.slow += batch.slow;
      },
      tryAcquireProbe(limit, ttlMs) {
        if (closed) return false;
        const now = clock.now();
        current.probes = current.probes.filter((probe) => probe.expires > now);
        if (current.probes.length >= limit) return false;
        current.probes.push({ session, expires: now + ttlMs });
        return true;
      },
      releaseProbe() {
        const index = current.probes.findIndex((probe) => probe.session === session);
        if (index !== -1) current.probes.splice(index, 1);
      },
      close() {
        if (closed) return;
        closed = true;
        current.replicas.delete(replica);
        current.probes = current.probes.filter((probe) => probe.session !== session);
        if (current.replicas.size === 0) entries.delete(name);
      },
    };
    return session;
  }

  /** What the store holds for `name`, for inspection and tests. */
  get(name: string): MemoryStoreEntry | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    const now = this.#clock.now();
    return {
      state: entry.state,
      replicas: entry.replicas.size,
      probesInUse: entry.probes.filter((probe) => probe.expires > now).length,
      totals: { ...entry.totals },
    };
  }
}
