import type { Cluster, Redis } from 'ioredis';
import type { OutcomeBatch, ResolvedOptions, SharedState, StoreReplica } from '@breaker/core';
import { DEFAULT_WINDOW, windowSpan } from './reports.js';
import type { NameEntry } from './session.js';

/** The scripts of `scripts.ts`, as the store defines them on its client. */
export type Commands = {
  breakerPublish(...args: (string | number)[]): Promise<number>;
  breakerReport(...args: (string | number)[]): Promise<[number, number, number, number]>;
  breakerProbe(...args: (string | number)[]): Promise<number>;
};

export type Client = (Redis | Cluster) & Commands;

/** The keys of one breaker, all in one Cluster slot. */
export interface BreakerKeys {
  state: string;
  reporters: string;
  counts: string;
  probes: string;
}

const DEFAULT_BUCKETS = 10;

/** Settings of a store that its scripts need. */
export interface ScriptSettings {
  quorum: number;
  keyTtl: number;
  channel: string;
}

/** Keys and arguments of the publish script for one state change. */
export function publishArgs(
  keys: BreakerKeys,
  state: SharedState,
  settings: ScriptSettings & { window: number },
): (string | number)[] {
  return [
    keys.state,
    keys.reporters,
    keys.counts,
    keys.probes,
    JSON.stringify(state),
    state.round,
    state.state,
    state.reason,
    settings.quorum,
    settings.window,
    settings.keyTtl,
    settings.channel,
  ];
}

/** Keys and arguments of the report script for one breaker's batch. */
export function reportArgs(
  keys: BreakerKeys,
  name: string,
  batch: OutcomeBatch,
  options: ResolvedOptions,
  settings: ScriptSettings & { reporter: string },
): (string | number)[] {
  const duration = windowSpan(options);
  const buckets = options.window?.type === 'time' ? options.window.buckets : DEFAULT_BUCKETS;
  return [
    keys.counts,
    keys.reporters,
    keys.state,
    keys.probes,
    batch.calls,
    batch.failures,
    batch.slow,
    settings.reporter,
    Math.max(1, Math.floor(duration / buckets)),
    buckets,
    settings.keyTtl,
    settings.channel,
    name,
    options.minimumCalls,
    options.failureRateThreshold ?? -1,
    options.slowCallRateThreshold ?? -1,
    settings.quorum,
    options.timeout,
  ];
}

export function firstReplica(entry: NameEntry): StoreReplica | undefined {
  return entry.replicas.values().next().value as StoreReplica | undefined;
}

/** The span of the shared window, from the options of this name's breakers. */
export function windowOf(entry: NameEntry): number {
  const options = firstReplica(entry)?.options;
  return options === undefined ? DEFAULT_WINDOW : windowSpan(options);
}

/** The fleet's window totals a report returned, if they are what the script returns. */
export function fleetTotals(value: unknown): OutcomeBatch | undefined {
  if (!Array.isArray(value) || value.length < 3) return undefined;
  const [calls, failures, slow] = value.map(Number);
  if (![calls, failures, slow].every((n) => Number.isFinite(n) && n! >= 0)) return undefined;
  return { calls: calls!, failures: failures!, slow: slow! };
}

/** Ends a connection: politely when it is up, at once when it is not (a QUIT would wait for a server that is gone). */
export async function quit(connection: Redis | Cluster): Promise<void> {
  if (connection.status === 'ready') {
    await connection.quit().catch(() => connection.disconnect());
  } else {
    connection.disconnect();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
