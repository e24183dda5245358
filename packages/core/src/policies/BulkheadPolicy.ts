import type { Clock, TimerHandle } from '../clock.js';
import { Emitter } from '../events.js';
import {
  bulkheadRejection,
  type BulkheadRejectedError,
  type BulkheadRejection,
} from './BulkheadRejectedError.js';
import { aborted, contextFor, invoke, type ExecuteOptions, type Guarded, type Policy } from './Policy.js';
import {
  resolveBulkheadOptions,
  type BulkheadOptions,
  type ResolvedBulkheadOptions,
} from './bulkheadOptions.js';

/** Every event a bulkhead emits, by name. */
export interface BulkheadEvents {
  /** A call was turned away: full on arrival, or out of time in the queue. */
  reject: { error: BulkheadRejectedError };
  /** A call joined the queue; `queued` counts it. */
  queue: { queued: number };
}

/** A JSON-serialisable snapshot of a bulkhead. */
export interface BulkheadStats {
  name: string;
  maxConcurrent: number;
  maxQueue: number;
  /** Calls running now. */
  active: number;
  /** Calls waiting for a slot now. */
  queued: number;
  /** Calls that got a slot. */
  admitted: number;
  /** Calls turned away, queue timeouts included. */
  rejected: number;
  /** Calls that waited `queueTimeout` in the queue and were turned away. */
  queueTimeouts: number;
  /** Queued calls whose caller aborted. */
  aborted: number;
}

interface Waiter {
  resolve(): void;
  leave(): void;
}

/** Limits how many calls run at once, with a bounded queue; beyond it calls fail at once. */
export class BulkheadPolicy extends Emitter<BulkheadEvents> implements Policy {
  /** Options after defaults. */
  readonly options: ResolvedBulkheadOptions;
  readonly #clock: Clock;
  // A Set keeps arrival order and removes an aborted waiter in O(1).
  readonly #queue = new Set<Waiter>();
  #active = 0;
  #admitted = 0;
  #rejected = 0;
  #queueTimeouts = 0;
  #aborted = 0;
  #meanDuration: number | undefined;

  constructor(options: BulkheadOptions) {
    super();
    this.options = resolveBulkheadOptions(options);
    this.#clock = this.options.clock;
  }

  /** The bulkhead's name, used in its errors. */
  get name(): string {
    return this.options.name;
  }

  /** Runs `fn({ signal })` in a free slot, after waiting in the queue if needed; rejects at once when full. */
  execute<T>(fn: Guarded<T>, options?: ExecuteOptions): Promise<Awaited<T>> {
    const signal = options?.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason as unknown);
    if (this.#active < this.options.maxConcurrent) {
      this.#active++;
      return this.#run(fn, signal);
    }
    if (this.#queue.size >= this.options.maxQueue) return Promise.reject(this.#reject('full'));
    return this.#wait(signal).then(() => {
      // The caller may abort between getting the slot and the start of the call.
      if (!aborted(signal)) return this.#run(fn, signal);
      this.#aborted++;
      this.#handOver();
      throw signal!.reason;
    });
  }

  /** A JSON-serialisable snapshot of the bulkhead. */
  stats(): BulkheadStats {
    return {
      name: this.name,
      maxConcurrent: this.options.maxConcurrent,
      maxQueue: this.options.maxQueue,
      active: this.#active,
      queued: this.#queue.size,
      admitted: this.#admitted,
      rejected: this.#rejected,
      queueTimeouts: this.#queueTimeouts,
      aborted: this.#aborted,
    };
  }

  #run<T>(fn: Guarded<T>, signal: AbortSignal | undefined): Promise<Awaited<T>> {
    this.#admitted++;
    const start = this.#clock.now();
    return invoke(fn, contextFor(signal)).then(
      (value) => {
        this.#release(start);
        return value;
      },
      (error: unknown) => {
        this.#release(start);
        throw error;
      },
    );
  }

  #release(start: number): void {
    const duration = Math.max(0, this.#clock.now() - start);
    const mean = this.#meanDuration;
    this.#meanDuration = mean === undefined ? duration : mean + (duration - mean) / 5;
    this.#handOver();
  }

  /** Hands the slot to the longest-waiting call, or frees it. */
  #handOver(): void {
    const next = this.#queue.values().next();
    if (next.done === true) {
      this.#active--;
      return;
    }
    next.value.leave();
    next.value.resolve();
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timeout = this.options.queueTimeout;
      let timer: TimerHandle | undefined;
      const onAbort = (): void => {
        waiter.leave();
        this.#aborted++;
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve,
        leave: () => {
          this.#queue.delete(waiter);
          // Stryker disable next-line ConditionalExpression: a Clock ignores unknown handles, undefined among them
          if (timer !== undefined) this.#clock.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (timeout !== undefined) {
        timer = this.#clock.setTimeout(() => {
          waiter.leave();
          this.#queueTimeouts++;
          reject(this.#reject('queue-timeout', timeout));
        }, timeout);
      }
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: onAbort removes the listener itself, through leave()
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.add(waiter);
      this.emit('queue', { queued: this.#queue.size });
    });
  }

  #reject(reason: BulkheadRejection, queueTimeout?: number): BulkheadRejectedError {
    this.#rejected++;
    // Roughly when a slot frees: the queue ahead, shared by the slots, each taking a recent call's time.
    const mean = this.#meanDuration ?? 0;
    const retryAfterMs = Math.ceil((mean * (this.#queue.size + 1)) / this.options.maxConcurrent);
    const error = bulkheadRejection(this.name, reason, retryAfterMs, queueTimeout);
    this.emit('reject', { error });
    return error;
  }
}

/** A bulkhead: at most `maxConcurrent` calls at once, `maxQueue` more waiting, the rest turned away. */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
