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
