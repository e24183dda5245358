import { Cluster, type Redis } from 'ioredis';
import type { OutcomeBatch, ResolvedOptions, SharedState, StoreReplica } from '@breaker/core';
import { DEFAULT_WINDOW, windowSpan } from './reports.js';
import type { NameEntry } from './session.js';

/** The scripts of `scripts.ts`, as the store defines them on its client. */
export type Commands = {
  breakerPublish(...args: (string | number)[]): Promise<number>;
  breakerReport(...args: (string | number)[]): Promise<number[]>;
  breakerProbe(...args: (string | number)[]): Promise<number>;
};

export type Client = (Redis | Cluster) & Commands;

/** The keys of one breaker, all in one Cluster slot. */
export interface BreakerKeys {
  state: string;
  reporters: string;
  counts: string;
  probes: string;
  /** The stored round alone, a string, so that a reconciliation reads many in one command. */
  round: string;
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
    keys.round,
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

/** Arguments of the report script that every breaker of a round shares. */
export function reportSettings(settings: ScriptSettings & { reporter: string }): (string | number)[] {
  return [settings.reporter, settings.keyTtl, settings.channel, settings.quorum];
}

/**
 * Adds one breaker's keys and arguments to a report script's: `keys` and `args` grow in step, so one
 * script can carry many breakers.
 */
export function addReport(
  into: { keys: string[]; args: (string | number)[] },
  keys: BreakerKeys,
  name: string,
  batch: OutcomeBatch,
  options: ResolvedOptions,
): void {
  const duration = windowSpan(options);
  const buckets = options.window?.type === 'time' ? options.window.buckets : DEFAULT_BUCKETS;
  into.keys.push(keys.counts, keys.reporters, keys.state, keys.probes, keys.round);
  into.args.push(
    batch.calls,
    batch.failures,
    batch.slow,
    Math.max(1, Math.floor(duration / buckets)),
    buckets,
    name,
    options.minimumCalls,
    options.failureRateThreshold ?? -1,
    options.slowCallRateThreshold ?? -1,
    options.timeout,
  );
}

/** The most breakers one report script carries, so that none holds Redis long. */
const REPORTS_PER_SCRIPT = 100;

/**
 * Sends one round of counts for every breaker due: on one Redis, one script carries them all (up to
 * {@link REPORTS_PER_SCRIPT} a script); on a Cluster, whose breakers live in different slots, one script
 * each. Each breaker keeps the fleet's totals its report returned.
 */
export function sendReports(
  client: Client,
  due: [string, NameEntry][],
  settings: (string | number)[],
  keysOf: (name: string) => BreakerKeys,
  fail: (error: unknown) => void,
): void {
  const size = client instanceof Cluster ? 1 : REPORTS_PER_SCRIPT;
  const empty = () => ({
    keys: [] as string[],
    args: [] as (string | number)[],
    entries: [] as [string, NameEntry][],
  });
  let script = empty();
  const send = (): void => {
    const { keys, args, entries } = script;
    script = empty();
    if (entries.length === 0) return;
    client.breakerReport(keys.length, ...keys, ...settings, ...args).then((totals) => {
      entries.forEach(([name, entry], index) => {
        entry.fleet = fleetTotals(totals, index);
        // The script gives -1 for a breaker whose keys Redis could not work on; the others counted.
        if (entry.fleet === undefined) {
          fail(
            new TypeError(
              `Ignored the counts of "${name}": Redis holds a key of it that the store never writes.`,
            ),
          );
        }
      });
    }, fail);
  };
  for (const [name, entry] of due) {
    const options = firstReplica(entry)?.options;
    const batch = entry.pending;
    if (options === undefined || batch === undefined) continue;
    addReport(script, keysOf(name), name, batch, options);
    script.entries.push([name, entry]);
    if (script.entries.length >= size) send();
  }
  send();
}

export function firstReplica(entry: NameEntry): StoreReplica | undefined {
  return entry.replicas.values().next().value as StoreReplica | undefined;
}

/** The span of the shared window, from the options of this name's breakers. */
export function windowOf(entry: NameEntry): number {
  const options = firstReplica(entry)?.options;
  return options === undefined ? DEFAULT_WINDOW : windowSpan(options);
}

/** The fleet's window totals of the `index`th breaker a report carried, if they are what the script returns. */
export function fleetTotals(value: unknown, index = 0): OutcomeBatch | undefined {
  if (!Array.isArray(value) || value.length < (index + 1) * 4) return undefined;
  const [calls, failures, slow] = value.slice(index * 4, index * 4 + 3).map(Number);
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
