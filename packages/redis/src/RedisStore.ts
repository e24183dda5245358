import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import {
  Emitter,
  InvalidOptionError,
  type OutcomeBatch,
  type SharedState,
  type StateStore,
  type StoreReplica,
  type StoreSession,
} from '@breaker/core';
import { describeValue as describe } from '@breaker/core/http';
import { ACQUIRE_PROBE, PUBLISH_STATE, REPORT } from './scripts.js';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL; never logged nor put in an error. Give this or `client`. */
  url?: string;
  /** An ioredis client to use (it stays yours: `close()` does not quit it); a duplicate subscribes. */
  client?: Redis;
  /** Prefix of every key and of the channel (default `"breaker"`); keys are `{prefix:name}:…`. */
  prefix?: string;
  /** Replicas that must have reported failures before one replica's trip opens the whole fleet (default 1). */
  quorum?: number;
  /** Lifetime of every key, refreshed on each write, so breakers that are gone leave nothing (default 1 h). */
  keyTtl?: number;
  /** A Redis command that takes longer fails (and is reported) rather than queueing (default 1000 ms). */
  commandTimeout?: number;
}

/** Events of a {@link RedisStore}. */
export interface RedisStoreEvents {
  /** Redis could not be reached or a command failed; breakers go on with local state. */
  error: { error: Error };
  /** The store is connected (again) and has synced every breaker's state. */
  ready: Record<string, never>;
}

interface Shared {
  replicas: Set<StoreReplica>;
  /** The newest state a replica here published, for resync after an outage. */
  lastLocal: SharedState | undefined;
}

type Commands = {
  breakerPublish(...args: (string | number)[]): Promise<number>;
  breakerReport(...args: (string | number)[]): Promise<[number, number, number, number]>;
  breakerProbe(...args: (string | number)[]): Promise<number>;
};

const DEFAULT_PREFIX = 'breaker';
const DEFAULT_KEY_TTL = 3_600_000;
const DEFAULT_COMMAND_TIMEOUT = 1_000;
const DEFAULT_WINDOW = 60_000;
const DEFAULT_BUCKETS = 10;

/**
 * A `StateStore` that shares breaker state through Redis (or Valkey). A state change reaches every
 * replica by pub/sub; counts are flushed in batches into a shared window by one Lua script, which
 * also applies the fleet's rate rule; half-open permits are leased fleet-wide and expire. Calls
 * never wait on Redis: every method answers at once, and an outage leaves each replica on its
 * local state until it reconnects and resyncs.
 */
export class RedisStore extends Emitter<RedisStoreEvents> implements StateStore {
  readonly #client: Redis & Commands;
  readonly #subscriber: Redis;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #quorum: number;
  readonly #keyTtl: number;
  readonly #names = new Map<string, Shared>();
  #closed = false;
  /** Connected since the last loss, so a lost connection is reported once, not per reconnect attempt. */
  #up = false;
  #lateSync: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RedisStoreOptions) {
    super();
    const {
      url,
      client,
      prefix = DEFAULT_PREFIX,
      quorum = 1,
      keyTtl = DEFAULT_KEY_TTL,
      ...rest
    } = checkOptions(options);
    const commandTimeout = rest.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT;
    // No offline queue: while Redis is away a command fails at once instead of waiting in memory.
    const connection: RedisOptions = { enableOfflineQueue: false, commandTimeout, maxRetriesPerRequest: 0 };
    this.#ownsClient = client === undefined;
    const base = client ?? new Redis(url!, { ...connection, lazyConnect: false });
    this.#client = base as Redis & Commands;
    this.#subscriber = base.duplicate({ ...connection, commandTimeout: undefined, enableOfflineQueue: true });
    this.#prefix = prefix;
    this.#channel = `${prefix}:state`;
    this.#quorum = quorum;
    this.#keyTtl = keyTtl;
    this.#client.defineCommand('breakerPublish', { numberOfKeys: 4, lua: PUBLISH_STATE });
    this.#client.defineCommand('breakerReport', { numberOfKeys: 4, lua: REPORT });
    this.#client.defineCommand('breakerProbe', { numberOfKeys: 1, lua: ACQUIRE_PROBE });
    this.#client.on('error', (error: Error) => this.#fail(error));
    this.#client.on('ready', () => {
      this.#up = true;
      void this.#resync();
    });
    this.#client.on('close', () => {
      if (!this.#up) return;
      this.#up = false;
      this.#fail(new Error('Lost the connection to Redis; breakers go on with local state until it is back'));
    });
    this.#subscriber.on('error', (error: Error) => this.#fail(error));
    this.#subscriber.on('message', (_channel: string, message: string) => this.#deliver(message));
    // Changes published while the subscriber was away are read back once it is subscribed again.
    this.#subscriber.on('ready', () => {
      void this.#resync();
      // 'ready' can come a moment before the server has the subscription again: a change published
      // in that moment is missed by pub/sub, so read the stored state once more a little later.
      clearTimeout(this.#lateSync);
      this.#lateSync = setTimeout(() => void this.#resync(), 1_000);
      this.#lateSync.unref();
    });
    this.#subscriber.subscribe(this.#channel).catch((error: Error) => this.#fail(error));
  }

  /** Connects a breaker: it publishes its changes and reports its counts here, and hears the fleet's. */
  connect(name: string, replica: StoreReplica): StoreSession {
    let shared = this.#names.get(name);
    if (shared === undefined) {
      shared = { replicas: new Set(), lastLocal: undefined };
      this.#names.set(name, shared);
    }
    shared.replicas.add(replica);
    if (this.#client.status === 'ready') void this.#syncName(name);
    return new RedisSession(this, name, replica, shared);
  }

  /** Quits the connections this store made (not a `client` you gave it, beyond its duplicate). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#lateSync);
    this.#names.clear();
    await Promise.allSettled([
      this.#subscriber.quit(),
      this.#ownsClient ? this.#client.quit() : Promise.resolve(),
    ]);
  }

  /** Whether commands can be sent now. */
  get connected(): boolean {
    return !this.#closed && this.#client.status === 'ready';
  }

  /** @internal The keys of one breaker, all in one Cluster slot. */
  keys(name: string): { state: string; reporters: string; counts: string; probes: string } {
    const tag = `{${this.#prefix}:${name}}`;
    return {
      state: `${tag}:state`,
      reporters: `${tag}:reporters`,
      counts: `${tag}:counts`,
      probes: `${tag}:probes`,
    };
  }

  /** @internal */
  publish(name: string, shared: Shared, state: SharedState): void {
    if (shared.lastLocal === undefined || state.round > shared.lastLocal.round) shared.lastLocal = state;
    if (!this.connected) return;
    const windowMs = windowOf(shared);
    const keys = this.keys(name);
    this.#client
      .breakerPublish(
        keys.state,
        keys.reporters,
        keys.counts,
        keys.probes,
        JSON.stringify(state),
        state.round,
        state.state,
        state.reason,
        this.#quorum,
        windowMs,
        this.#keyTtl,
        this.#channel,
      )
      .catch((error: Error) => this.#fail(error));
  }

  /** @internal */
  report(name: string, replica: StoreReplica, batch: OutcomeBatch): void {
    if (!this.connected) return;
    const o = replica.options;
    const window = o.window?.type === 'time' ? o.window : undefined;
    const duration = window?.duration ?? DEFAULT_WINDOW;
    const buckets = window?.buckets ?? DEFAULT_BUCKETS;
    const keys = this.keys(name);
    this.#client
      .breakerReport(
        keys.counts,
        keys.reporters,
        keys.state,
        keys.probes,
        batch.calls,
        batch.failures,
        batch.slow,
        replica.id,
        Math.max(1, Math.floor(duration / buckets)),
        buckets,
        this.#keyTtl,
        this.#channel,
        name,
        o.minimumCalls,
        o.failureRateThreshold ?? -1,
        o.slowCallRateThreshold ?? -1,
        this.#quorum,
        o.timeout,
      )
      .catch((error: Error) => this.#fail(error));
  }

  /** @internal */
  acquireProbe(name: string, id: string, limit: number, ttlMs: number): Promise<boolean> {
    return this.#client
      .breakerProbe(this.keys(name).probes, id, limit, Math.max(1, Math.ceil(ttlMs)))
      .then((taken) => taken === 1);
  }

  /** @internal */
  releaseProbe(name: string, id: string): void {
    if (!this.connected) return;
    this.#client.zrem(this.keys(name).probes, id).catch((error: Error) => this.#fail(error));
  }

  /** @internal */
  leave(name: string, replica: StoreReplica): void {
    const shared = this.#names.get(name);
    if (shared === undefined) return;
    shared.replicas.delete(replica);
    if (shared.replicas.size === 0) this.#names.delete(name);
  }

  /** @internal */
  fail(error: unknown): void {
    this.#fail(error instanceof Error ? error : new Error(String(error)));
  }

  #deliver(message: string): void {
    let state: SharedState;
    try {
      state = JSON.parse(message) as SharedState;
    } catch {
      return;
    }
    const shared = this.#names.get(state.name);
    if (shared === undefined) return;
    for (const replica of shared.replicas) replica.applyRemote(state);
  }

  /** After (re)connecting: republish what changed here meanwhile, then adopt what the fleet holds. */
  async #resync(): Promise<void> {
    await Promise.all([...this.#names.keys()].map((name) => this.#syncName(name)));
    if (!this.#closed) this.emit('ready', {});
  }

  async #syncName(name: string): Promise<void> {
    const shared = this.#names.get(name);
    if (shared === undefined) return;
    try {
      if (shared.lastLocal !== undefined) this.publish(name, shared, shared.lastLocal);
      const json = await this.#client.hget(this.keys(name).state, 'json');
      if (json !== null) this.#deliver(json);
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    const safe = sanitize(error);
    this.emit('error', { error: safe });
    for (const shared of this.#names.values()) {
      for (const replica of shared.replicas) replica.reportError(safe);
    }
  }
}

/** One breaker's connection to the store. */
class RedisSession implements StoreSession {
  readonly #store: RedisStore;
  readonly #name: string;
  readonly #replica: StoreReplica;
  readonly #shared: Shared;
  /** Fleet permits taken and not yet handed to a call, with their expiry. */
  #ready: { id: string; expires: number }[] = [];
  /** Fleet permits held by calls in flight. */
  #held: string[] = [];
  #acquiring = false;
  #closed = false;

  constructor(store: RedisStore, name: string, replica: StoreReplica, shared: Shared) {
    this.#store = store;
    this.#name = name;
    this.#replica = replica;
    this.#shared = shared;
  }

  publish(state: SharedState): void {
    if (this.#closed) return;
    // Permits belong to the round that granted them.
    this.#ready = [];
    this.#held = [];
    this.#store.publish(this.#name, this.#shared, state);
  }

  report(batch: OutcomeBatch): void {
    if (!this.#closed) this.#store.report(this.#name, this.#replica, batch);
  }

  tryAcquireProbe(limit: number, ttlMs: number): boolean {
    if (this.#closed) return false;
    // Without Redis, local state decides: a call local rules allow is never refused for the store's sake.
    if (!this.#store.connected) return true;
    const now = Date.now();
    this.#ready = this.#ready.filter((permit) => permit.expires > now);
    const permit = this.#ready.shift();
    if (permit !== undefined) {
      this.#held.push(permit.id);
      return true;
    }
    // Permits are leased on demand, so the replica that has traffic probes, not one that sits idle.
    this.#lease(limit, ttlMs);
    return false;
  }

  releaseProbe(): void {
    const id = this.#held.shift();
    if (id !== undefined) this.#store.releaseProbe(this.#name, id);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.#held) this.#store.releaseProbe(this.#name, id);
    for (const { id } of this.#ready) this.#store.releaseProbe(this.#name, id);
    this.#store.leave(this.#name, this.#replica);
  }

  #lease(limit: number, ttlMs: number): void {
    if (this.#acquiring || this.#closed || !this.#store.connected) return;
    this.#acquiring = true;
    const id = randomUUID();
    this.#store
      .acquireProbe(this.#name, id, limit, ttlMs)
      .then((taken) => {
        if (taken && !this.#closed) this.#ready.push({ id, expires: Date.now() + ttlMs });
      })
      .catch((error: unknown) => this.#store.fail(error))
      .finally(() => {
        this.#acquiring = false;
      });
  }
}

/** The span of the shared window, from the options of this name's breakers. */
function windowOf(shared: Shared): number {
  const replica = shared.replicas.values().next().value as StoreReplica | undefined;
  const window = replica?.options.window;
  return window?.type === 'time' ? window.duration : DEFAULT_WINDOW;
}

/** An error safe to emit: its message names no credentials, whatever the URL held. */
function sanitize(error: Error): Error {
  const message = error.message.replace(/\/\/[^@/\s]*@/g, '//***@');
  if (message === error.message) return error;
  const safe = new Error(message);
  safe.name = error.name;
  return safe;
}

function checkOptions(options: RedisStoreOptions): RedisStoreOptions {
  const context = 'RedisStore';
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'options',
      `${context} needs options with \`url\` or \`client\`; received ${describe(options)}.`,
    );
  }
  const known = ['url', 'client', 'prefix', 'quorum', 'keyTtl', 'commandTimeout'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(
        key,
        `Unknown ${context} option "${key}". Known options: ${known.join(', ')}.`,
      );
    }
  }
  const { url, client, prefix, quorum, keyTtl, commandTimeout } = options;
  const invalid = (option: string, allowed: string, received: unknown) =>
    new InvalidOptionError(
      option,
      `Invalid ${context} option "${option}": expected ${allowed}; received ${option === 'url' ? 'a value that is not one' : describe(received)}.`,
    );
  if ((url === undefined) === (client === undefined)) {
    throw new InvalidOptionError('url', `${context} needs exactly one of \`url\` and \`client\`.`);
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw invalid('url', 'a redis:// or rediss:// URL', url);
  }
  if (
    client !== undefined &&
    (typeof client !== 'object' || client === null || typeof (client as Redis).duplicate !== 'function')
  ) {
    throw invalid('client', 'an ioredis client', client);
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix))) {
    throw invalid('prefix', 'a non-empty string without braces', prefix);
  }
  for (const [option, value, min] of [
    ['quorum', quorum, 1],
    ['keyTtl', keyTtl, 1_000],
    ['commandTimeout', commandTimeout, 1],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) {
      throw invalid(option, `a whole number of at least ${min}`, value);
    }
  }
  return options;
}
