import { randomUUID } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import {
  Emitter,
  parseSharedState,
  type OutcomeBatch,
  type SharedState,
  type StateStore,
  type StoreReplica,
  type StoreSession,
} from '@breaker/core';
import { ErrorFilter, safeError } from './errors.js';
import {
  DEFAULT_COMMAND_TIMEOUT,
  DEFAULT_RECONCILE_INTERVAL,
  checkOptions,
  connect,
  type RedisStoreOptions,
} from './options.js';
import { ACQUIRE_PROBE, PUBLISH_STATE, REPORT } from './scripts.js';
import {
  firstReplica,
  publishArgs,
  quit,
  reportSettings,
  sendReports,
  windowOf,
  withTimeout,
  type BreakerKeys,
  type Client,
} from './commands.js';
import { readMessage } from './messages.js';
import { Publisher } from './publisher.js';
import { ReportQueue, flushDelay, readsFleetWindow } from './reports.js';
import { readRounds, staleNames } from './rounds.js';
import { LEASE_BACKOFF_MIN, RedisSession, newEntry, type NameEntry, type SessionHost } from './session.js';

/** Events of a {@link RedisStore}. */
export interface RedisStoreEvents {
  /** Redis could not be reached, a command failed, or Redis sent something invalid; breakers go on with local state. */
  error: { error: Error };
  /** The store is connected (again), subscribed, and has synced every breaker's state. */
  ready: Record<string, never>;
}

const DEFAULT_PREFIX = 'breaker';
const DEFAULT_KEY_TTL = 3_600_000;

/** What sessions may ask of their store, set by the store's static block (so it reaches private members). */
let Host: new (store: RedisStore) => SessionHost;

/**
 * A `StateStore` that shares breaker state through Redis (or Valkey), standalone, with Sentinel or as
 * a Cluster. A state change reaches every replica by pub/sub; counts are flushed in batches into a
 * shared window by one Lua script, which also applies the fleet's rate rule; half-open permits are
 * leased fleet-wide and expire. Calls never wait on Redis, but for a half-open trial's permit, a
 * bounded moment; an outage leaves each replica on its local state until it reconnects and resyncs.
 * Everything read from Redis is checked before a breaker sees it.
 */
export class RedisStore extends Emitter<RedisStoreEvents> implements StateStore {
  readonly #client: Client;
  readonly #subscriber: Redis | Cluster;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #quorum: number;
  readonly #keyTtl: number;
  readonly #commandTimeout: number;
  readonly #reconcileInterval: number;
  readonly #names = new Map<string, NameEntry>();
  readonly #errors = new ErrorFilter();
  readonly #host: SessionHost;
  readonly #detach: (() => void)[] = [];
  #closed = false;
  /** Connected since the last loss, so a lost connection is reported once, not per reconnect attempt. */
  #up = false;
  /** The server holds the subscription, as far as the last answer told. */
  #subscribed = false;
  #reconcileTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #publisher = new Publisher({
    connected: () => this.connected,
    store: (name, entry, state) => this.#store(name, entry, state),
    resync: (name) => void this.#syncName(name),
    fail: (error) => this.#fail(error),
  });
  readonly #reports = new ReportQueue<NameEntry>(
    () => this.#names.entries(),
    (due) => this.#sendReports(due),
  );
  /** This store's id among the replicas that report failures to a quorum. */
  readonly #reporterId = randomUUID();

  constructor(options: RedisStoreOptions) {
    super();
    const checked = checkOptions(options);
    this.#prefix = checked.prefix ?? DEFAULT_PREFIX;
    this.#channel = `${this.#prefix}:state`;
    this.#quorum = checked.quorum ?? 1;
    this.#keyTtl = checked.keyTtl ?? DEFAULT_KEY_TTL;
    this.#commandTimeout = checked.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT;
    this.#reconcileInterval = checked.reconcileInterval ?? DEFAULT_RECONCILE_INTERVAL;
    const { client, subscriber, owned } = connect(checked, this.#commandTimeout);
    this.#client = client as Client;
    this.#subscriber = subscriber;
    this.#owned = owned;
    this.#client.defineCommand('breakerPublish', { numberOfKeys: 5, lua: PUBLISH_STATE });
    // Its first argument is the number of keys: one round carries several breakers.
    this.#client.defineCommand('breakerReport', { lua: REPORT });
    this.#client.defineCommand('breakerProbe', { numberOfKeys: 1, lua: ACQUIRE_PROBE });
    this.#host = this.#sessionHost();
    this.#listen(this.#client, 'error', (error: unknown) => this.#fail(error));
    this.#listen(this.#client, 'node error', (error: unknown) => this.#fail(error));
    this.#listen(this.#client, 'ready', () => {
      this.#up = true;
      this.#errors.reset();
      void this.#sync();
    });
    this.#listen(this.#client, 'close', () => {
      if (!this.#up) return;
      this.#up = false;
      this.#fail(new Error('Lost the connection to Redis; breakers go on with local state until it is back'));
    });
    subscriber.on('error', (error: unknown) => this.#fail(error));
    subscriber.on('node error', (error: unknown) => this.#fail(error));
    subscriber.on('message', (_channel: string, message: string) => this.#deliver(message));
    subscriber.on('ready', () => this.#subscribe());
    subscriber.on('close', () => {
      this.#subscribed = false;
    });
    this.#scheduleReconcile();
  }

  /** Connects a breaker: it publishes its changes and reports its counts here, and hears the fleet's. */
  connect(name: string, replica: StoreReplica): StoreSession {
    let entry = this.#names.get(name);
    if (entry === undefined) {
      entry = newEntry();
      this.#names.set(name, entry);
    }
    entry.replicas.add(replica);
    if (this.connected) void this.#syncName(name);
    return new RedisSession(this.#host, name, replica, entry);
  }

  /** Quits the connections this store made (not a `client` you gave it, beyond its duplicate). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.connected) {
      this.#reports.flushNow();
      this.#publisher.flush();
    }
    this.#closed = true;
    this.#reports.close();
    clearTimeout(this.#reconcileTimer);
    this.#publisher.close();
    this.#names.clear();
    for (const detach of this.#detach.splice(0)) detach();
    await Promise.all([quit(this.#subscriber), this.#owned ? quit(this.#client) : undefined]);
  }

  /** Whether commands can be sent now. */
  get connected(): boolean {
    return !this.#closed && this.#client.status === 'ready';
  }

  /** @internal The keys of one breaker, all in one Cluster slot. */
  keys(name: string): BreakerKeys {
    const tag = `{${this.#prefix}:${name}}`;
    return {
      state: `${tag}:state`,
      reporters: `${tag}:reporters`,
      counts: `${tag}:counts`,
      probes: `${tag}:probes`,
      round: `${tag}:round`,
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #listen(emitter: Redis | Cluster, event: string, listener: (...args: any[]) => void): void {
    emitter.on(event, listener);
    this.#detach.push(() => emitter.off(event, listener));
  }

  #sessionHost(): SessionHost {
    return new Host(this);
  }

  static {
    /** What sessions may ask of their store; a class nested here, so it reaches the store's private methods. */
    Host = class implements SessionHost {
      constructor(readonly store: RedisStore) {}

      get connected(): boolean {
        return this.store.connected;
      }

      publish(name: string, entry: NameEntry, state: SharedState): void {
        this.store.#publish(name, entry, state);
      }

      report(entry: NameEntry, batch: OutcomeBatch): void {
        this.store.#report(entry, batch);
      }

      leaseProbe(name: string, id: string, limit: number, ttlMs: number): Promise<boolean> {
        return this.store.#leaseProbe(name, id, limit, ttlMs);
      }

      releaseProbe(name: string, id: string): void {
        this.store.#releaseProbe(name, id);
      }

      leave(name: string, replica: StoreReplica): void {
        this.store.#leave(name, replica);
      }

      fail(error: unknown): void {
        this.store.#fail(error);
      }
    };
  }

  #publish(name: string, entry: NameEntry, state: SharedState): void {
    if (entry.lastLocal === undefined || state.round > entry.lastLocal.round) entry.lastLocal = state;
    // A state change empties the shared window: its totals are unknown until the next report.
    entry.fleet = undefined;
    if (state.state !== 'closed') entry.active = true;
    if (!this.connected) return;
    // A quorum counts the replicas that reported failures: this replica's go first.
    if (state.state === 'open' && this.#quorum > 1 && entry.pending !== undefined) {
      this.#reports.flushNow([name, entry]);
    }
    this.#publisher.publish(name, entry, state);
  }

  #store(name: string, entry: NameEntry, state: SharedState): Promise<unknown> {
    return this.#client.breakerPublish(
      ...publishArgs(this.keys(name), state, {
        quorum: this.#quorum,
        window: windowOf(entry),
        keyTtl: this.#keyTtl,
        channel: this.#channel,
      }),
    );
  }

  #report(entry: NameEntry, batch: OutcomeBatch): void {
    const options = firstReplica(entry)?.options;
    // Counts serve the fleet's rate rules, and a quorum's count of replicas that saw failures.
    if (options === undefined || !(readsFleetWindow(options) || this.#quorum > 1)) return;
    this.#reports.add(entry, batch, (pending) => flushDelay(options, pending, entry.fleet, this.#quorum));
  }

  #sendReports(due: [string, NameEntry][]): void {
    if (!this.connected) return;
    const settings = reportSettings({
      reporter: this.#reporterId,
      quorum: this.#quorum,
      keyTtl: this.#keyTtl,
      channel: this.#channel,
    });
    sendReports(
      this.#client,
      due,
      settings,
      (name) => this.keys(name),
      (error) => this.#fail(error),
    );
  }

  /** Asks for a fleet permit; rejects if Redis fails or does not answer within `commandTimeout`. */
  #leaseProbe(name: string, id: string, limit: number, ttlMs: number): Promise<boolean> {
    const asked = this.#client
      .breakerProbe(this.keys(name).probes, id, limit, Math.max(1, Math.ceil(ttlMs)))
      .then((taken) => taken === 1);
    return withTimeout(asked, this.#commandTimeout, 'Redis did not answer a trial permit request in time');
  }

  #releaseProbe(name: string, id: string): void {
    if (!this.connected) return;
    this.#client.zrem(this.keys(name).probes, id).catch((error: unknown) => this.#fail(error));
  }

  #leave(name: string, replica: StoreReplica): void {
    const entry = this.#names.get(name);
    if (entry === undefined) return;
    // The last breaker of a name leaving takes its counts with it: they go now.
    if (entry.replicas.size === 1 && entry.replicas.has(replica)) this.#reports.flushNow([name, entry]);
    entry.replicas.delete(replica);
    if (entry.replicas.size === 0) this.#names.delete(name);
  }

  /** (Re)subscribes; the answer proves the server holds the subscription, and a resync follows. */
  #subscribe(): Promise<void> {
    return withTimeout(
      this.#subscriber.subscribe(this.#channel),
      this.#commandTimeout,
      'Redis did not confirm the subscription in time',
    ).then(
      () => {
        const was = this.#subscribed;
        this.#subscribed = true;
        if (!was) void this.#sync();
      },
      (error: unknown) => {
        this.#subscribed = false;
        this.#fail(error);
      },
    );
  }

  /** Once both connections are up: republish what changed here meanwhile, then adopt what the fleet holds. */
  async #sync(): Promise<void> {
    if (!this.connected || !this.#subscribed) return;
    await Promise.all([...this.#names.keys()].map((name) => this.#syncName(name)));
    if (this.connected && this.#subscribed) this.emit('ready', {});
  }

  async #syncName(name: string): Promise<void> {
    const entry = this.#names.get(name);
    if (entry === undefined) return;
    try {
      if (entry.lastLocal !== undefined) this.#publish(name, entry, entry.lastLocal);
      const json = await this.#client.hget(this.keys(name).state, 'json');
      if (json !== null) this.#deliver(json, name);
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Every few seconds, with jitter so replicas spread out: checks the subscription (a repeated
   * SUBSCRIBE is harmless, and one that goes unanswered means a dead socket), reads the stored round of
   * every breaker with traffic (one command for a thousand on one Redis), and reads back the whole
   * state of those whose round is newer than any heard here, healing any change that pub/sub missed.
   */
  #scheduleReconcile(): void {
    if (this.#closed) return;
    const delay = this.#reconcileInterval * (0.8 + 0.4 * Math.random());
    this.#reconcileTimer = setTimeout(() => void this.#reconcile(), delay);
    this.#reconcileTimer.unref();
  }

  async #reconcile(): Promise<void> {
    if (this.connected) {
      const confirmed = await this.#subscribe().then(() => this.#subscribed);
      if (!confirmed && !this.#closed && this.#subscriber.status === 'ready')
        this.#subscriber.disconnect(true);
      const names = [...this.#names].filter(([, entry]) => entry.active);
      for (const [, entry] of names) entry.active = false;
      try {
        const rounds = await readRounds(
          this.#client,
          names.map(([name]) => this.keys(name).round),
        );
        const stale = staleNames(names, rounds);
        await Promise.all(stale.map((name) => this.#syncName(name)));
      } catch (error) {
        this.#fail(error);
      }
    }
    this.#scheduleReconcile();
  }

  /** Hands a state from Redis to the breakers of its name, once it has passed every check. */
  #deliver(message: string, expected?: string): void {
    try {
      const read = readMessage(message, expected);
      if (typeof read === 'string') return this.#refuse(read);
      const { name, value } = read;
      const entry = this.#names.get(name);
      if (entry === undefined) return;
      const state = parseSharedState(value);
      if (typeof state === 'string') return this.#refuse(`a state of "${name}" where ${state}`, entry);
      if (state.state !== 'closed') entry.active = true;
      if (state.round > entry.remoteRound) {
        entry.remoteRound = state.round;
        // The fleet's newer state supersedes what this replica published before it: that is not to be
        // published again, after an outage or a refusal.
        entry.lastLocal = undefined;
        // A new round: its trial permits are free to ask for at once, and its window's totals are unknown.
        entry.leaseAfter = 0;
        entry.fleet = undefined;
        entry.leaseBackoff = LEASE_BACKOFF_MIN;
      }
      for (const replica of entry.replicas) replica.applyRemote(state);
    } catch (error) {
      this.#fail(error);
    }
  }

  #refuse(what: string, entry?: NameEntry): void {
    const error = new TypeError(`Ignored ${what} from Redis; breakers keep their local state.`);
    if (!this.#errors.admit(error.message, this.#up)) return;
    this.emit('error', { error });
    if (entry !== undefined) for (const replica of entry.replicas) replica.reportError(error);
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    const safe = safeError(error);
    if (!this.#errors.admit(safe.message, this.#up)) return;
    this.emit('error', { error: safe });
    for (const entry of this.#names.values()) {
      for (const replica of entry.replicas) replica.reportError(safe);
    }
  }
}
