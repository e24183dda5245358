import { Cluster, Redis, type ClusterOptions, type RedisOptions, type SentinelAddress } from 'ioredis';
import { InvalidOptionError } from '@breaker/core';
import { describeValue as describe } from '@breaker/core/http';

/** A Redis Cluster node to start from: `"host:port"` or `{ host, port }`. */
export type ClusterNodeAddress = string | { host: string; port: number };

/** Where Sentinel finds the master: the sentinels and the master's name, plus any ioredis option for them. */
export interface SentinelConnection extends Omit<
  RedisOptions,
  'sentinels' | 'name' | 'enableOfflineQueue' | 'commandTimeout' | 'lazyConnect'
> {
  /** The sentinels to ask, at least one. */
  sentinels: Partial<SentinelAddress>[];
  /** The name the sentinels monitor the master under. */
  name: string;
}

/** Options of {@link RedisStore}. Give exactly one of `url`, `cluster`, `sentinel` and `client`. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL of one Redis (or Valkey); never logged nor put in an error. */
  url?: string;
  /** Nodes of a Redis Cluster to start from; the store finds the rest. */
  cluster?: ClusterNodeAddress[];
  /** A master found through Redis Sentinel, followed across failovers. */
  sentinel?: SentinelConnection;
  /** An ioredis `Redis` or `Cluster` client to use (it stays yours: `close()` does not quit it); a duplicate subscribes. */
  client?: Redis | Cluster;
  /** Prefix of every key and of the channel (default `"breaker"`); keys are `{prefix:name}:…`. */
  prefix?: string;
  /** Replicas that must have reported failures before one replica's trip opens the whole fleet (default 1). */
  quorum?: number;
  /** Lifetime of every key, refreshed on each write, so breakers that are gone leave nothing (default 1 h). */
  keyTtl?: number;
  /** A Redis command that takes longer fails (and is reported) rather than queueing (default 1000 ms). */
  commandTimeout?: number;
  /**
   * How often, in milliseconds, the store checks that its subscription is alive and reads back the
   * stored state of breakers with traffic, so a change that pub/sub missed is healed (default 5000).
   */
  reconcileInterval?: number;
}

export const DEFAULT_COMMAND_TIMEOUT = 1_000;
export const DEFAULT_RECONCILE_INTERVAL = 5_000;

const KNOWN = [
  'url',
  'cluster',
  'sentinel',
  'client',
  'prefix',
  'quorum',
  'keyTtl',
  'commandTimeout',
  'reconcileInterval',
];
const CONTEXT = 'RedisStore';

/** The two connections a store uses, and whether it made them. */
export interface Connections {
  client: Redis | Cluster;
  subscriber: Redis | Cluster;
  owned: boolean;
}

/**
 * Opens the command connection and the subscriber. Neither queues commands while Redis is away, so
 * nothing waits on it; the subscriber retries its own subscription, which the store also checks.
 */
export function connect(options: RedisStoreOptions, commandTimeout: number): Connections {
  const own: RedisOptions = { enableOfflineQueue: false, commandTimeout, maxRetriesPerRequest: 0 };
  const listen: RedisOptions = {
    ...own,
    commandTimeout: undefined,
    autoResubscribe: false,
    maxRetriesPerRequest: null,
  };
  const { url, cluster, sentinel, client } = options;
  if (client instanceof Cluster) {
    // The client's own node options (a password, TLS) hold for the subscriber too.
    const nodes = { ...client.options.redisOptions, ...listen };
    return { client, subscriber: client.duplicate([], clusterOptions(nodes)), owned: false };
  }
  if (client !== undefined) return { client, subscriber: client.duplicate(listen), owned: false };
  if (cluster !== undefined) {
    const made = new Cluster(cluster, clusterOptions(own));
    return { client: made, subscriber: made.duplicate([], clusterOptions(listen)), owned: true };
  }
  const made = sentinel !== undefined ? new Redis({ ...sentinel, ...own }) : new Redis(url!, own);
  return { client: made, subscriber: made.duplicate(listen), owned: true };
}

function clusterOptions(node: RedisOptions): ClusterOptions {
  const { enableOfflineQueue, ...redisOptions } = node;
  return { enableOfflineQueue, redisOptions };
}

export function checkOptions(options: RedisStoreOptions): RedisStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'options',
      `${CONTEXT} needs options with one of \`url\`, \`cluster\`, \`sentinel\` or \`client\`; received ${describe(options)}.`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) {
      throw new InvalidOptionError(
        key,
        `Unknown ${CONTEXT} option "${key}". Known options: ${KNOWN.join(', ')}.`,
      );
    }
  }
  const { url, cluster, sentinel, client, prefix, quorum, keyTtl, commandTimeout, reconcileInterval } =
    options;
  const given = [url, cluster, sentinel, client].filter((value) => value !== undefined).length;
  if (given !== 1) {
    throw new InvalidOptionError(
      'url',
      `${CONTEXT} needs exactly one of \`url\`, \`cluster\`, \`sentinel\` and \`client\`; received ${given}.`,
    );
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw invalid('url', 'a redis:// or rediss:// URL', url);
  }
  if (cluster !== undefined && (!Array.isArray(cluster) || cluster.length === 0 || !cluster.every(isNode))) {
    throw invalid('cluster', 'a non-empty array of "host:port" strings or { host, port } objects', cluster);
  }
  if (sentinel !== undefined) {
    if (typeof sentinel !== 'object' || sentinel === null) {
      throw invalid('sentinel', 'an object with `sentinels` and `name`', sentinel);
    }
    if (
      !Array.isArray(sentinel.sentinels) ||
      sentinel.sentinels.length === 0 ||
      !sentinel.sentinels.every(isNode)
    ) {
      throw invalid('sentinel.sentinels', 'a non-empty array of { host, port } objects', sentinel.sentinels);
    }
    if (typeof sentinel.name !== 'string' || sentinel.name === '') {
      throw invalid('sentinel.name', 'the master name the sentinels monitor', sentinel.name);
    }
  }
  if (
    client !== undefined &&
    (typeof client !== 'object' || client === null || typeof (client as Redis).duplicate !== 'function')
  ) {
    throw invalid('client', 'an ioredis Redis or Cluster client', client);
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix))) {
    throw invalid('prefix', 'a non-empty string without braces', prefix);
  }
  for (const [option, value, min] of [
    ['quorum', quorum, 1],
    ['keyTtl', keyTtl, 1_000],
    ['commandTimeout', commandTimeout, 1],
    ['reconcileInterval', reconcileInterval, 100],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) {
      throw invalid(option, `a whole number of at least ${min}`, value);
    }
  }
  return options;
}

function invalid(option: string, allowed: string, received: unknown): InvalidOptionError {
  // A URL may hold a password: it is never quoted back.
  const shown = option === 'url' ? 'a value that is not one' : describe(received);
  return new InvalidOptionError(
    option,
    `Invalid ${CONTEXT} option "${option}": expected ${allowed}; received ${shown}.`,
  );
}

function isNode(node: unknown): boolean {
  if (typeof node === 'string') return /^[^\s:]+:\d+$/.test(node) || /^rediss?:\/\//.test(node);
  if (typeof node !== 'object' || node === null) return false;
  const { host, port } = node as { host?: unknown; port?: unknown };
  return (host === undefined || typeof host === 'string') && Number.isInteger(port);
}
