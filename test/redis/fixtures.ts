import { Redis } from 'ioredis';
import { CircuitBreaker, type BreakerOptions } from '@breaker/core';
import { RedisStore, type RedisStoreOptions } from '@breaker/redis';
import { startRedis, until, type TestRedis } from './server.js';

/** Runs registered clean-ups in reverse order; call `run` from `afterEach`. */
export class Cleanup {
  readonly #fns: (() => unknown)[] = [];

  add(...fns: (() => unknown)[]): void {
    this.#fns.push(...fns);
  }

  async run(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await fn();
  }
}

/** A private redis-server stopped by `cleanup`. */
export async function privateRedis(
  cleanup: Cleanup,
  extra: string[] = [],
  port?: number,
): Promise<TestRedis> {
  const started = await startRedis(port, extra);
  cleanup.add(() => started.stop());
  return started;
}

export interface Replica {
  store: RedisStore;
  breaker: CircuitBreaker;
  /** What the store's `error` event carried. */
  errors: Error[];
  /** What the breaker's `store-error` event carried. */
  breakerErrors: unknown[];
  /** How many `ready` events the store emitted. */
  readies: () => number;
}

/** One replica: its own store and a breaker on it, connected before it returns. */
export async function replica(
  cleanup: Cleanup,
  url: string,
  name: string,
  options: BreakerOptions = {},
  storeOptions: Partial<RedisStoreOptions> = {},
): Promise<Replica> {
  const where = storeOptions.client === undefined ? { url } : {};
  const store = new RedisStore({ ...where, commandTimeout: 200, ...storeOptions });
  const errors: Error[] = [];
  let readies = 0;
  store.on('error', ({ error }) => errors.push(error));
  store.on('ready', () => readies++);
  const breaker = new CircuitBreaker({ name, store, failureThreshold: 2, timeout: 5_000, ...options });
  const breakerErrors: unknown[] = [];
  breaker.on('store-error', ({ error }) => breakerErrors.push(error));
  cleanup.add(
    () => store.close(),
    () => breaker.dispose(),
  );
  await until(() => store.connected && readies > 0, 5_000);
  return { store, breaker, errors, breakerErrors, readies: () => readies };
}

export const fail = (breaker: CircuitBreaker): Promise<unknown> =>
  breaker.fire(() => Promise.reject(new Error('down'))).catch((error: unknown) => error);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects unhandled rejections and uncaught exceptions until `cleanup` runs. */
export function watchProcess(cleanup: Cleanup): unknown[] {
  const seen: unknown[] = [];
  const onError = (error: unknown) => seen.push(error);
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  cleanup.add(() => {
    process.off('unhandledRejection', onError);
    process.off('uncaughtException', onError);
  });
  return seen;
}

/** Reads how many times Redis ran each command since the last reset, scripts' inner commands included. */
export async function commandCounts(admin: Redis): Promise<Record<string, number>> {
  const info = await admin.info('commandstats');
  const counts: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

/** Script calls: EVALSHA, and the EVAL that loads a script the server does not hold yet. */
export const scripts = (counts: Record<string, number>): number => (counts.evalsha ?? 0) + (counts.eval ?? 0);

/** A connection to `url` that reads command counts, from zero: Redis's statistics are reset first. */
export async function counting(cleanup: Cleanup, url: string): Promise<Redis> {
  const admin = new Redis(url);
  cleanup.add(() => admin.disconnect());
  await admin.config('RESETSTAT');
  return admin;
}
