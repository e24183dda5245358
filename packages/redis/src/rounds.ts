import { Cluster } from 'ioredis';
import { MAX_ROUND } from '@breaker/core';
import type { Client } from './commands.js';
import type { NameEntry } from './session.js';

/** The most keys one MGET reads. */
const ROUNDS_PER_READ = 1_000;

/**
 * The stored rounds under `keys`, in order (`null` where none is stored): on one Redis, one MGET per
 * thousand breakers; on a Cluster, whose breakers live in different slots, one GET each.
 */
export async function readRounds(client: Client, keys: string[]): Promise<(string | null)[]> {
  if (client instanceof Cluster) return Promise.all(keys.map((key) => client.get(key)));
  const reads: Promise<(string | null)[]>[] = [];
  for (let at = 0; at < keys.length; at += ROUNDS_PER_READ) {
    reads.push(client.mget(keys.slice(at, at + ROUNDS_PER_READ)));
  }
  return (await Promise.all(reads)).flat();
}

/**
 * The names whose whole stored state is to be read again: a round newer than any heard here (a
 * change that pub/sub missed), a value that is not a round (it is read and checked with the state, and
 * refused there), or a local change that has not reached Redis yet. With no round stored there is
 * nothing to adopt: most breakers never changed state.
 */
export function staleNames(names: [string, NameEntry][], rounds: (string | null)[]): string[] {
  const stale: string[] = [];
  names.forEach(([name, entry], index) => {
    const value = rounds[index] ?? null;
    if (entry.lastLocal !== undefined) {
      stale.push(name);
      return;
    }
    if (value === null) return;
    const round = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
    if (!(Number.isSafeInteger(round) && round <= MAX_ROUND && round <= entry.remoteRound)) stale.push(name);
  });
  return stale;
}
