import type { BreakerOpenError, CallTimeoutError } from './errors.js';
import type { BreakerState } from './state.js';

/** Every reason a breaker changes state for. */
export const TRANSITION_REASONS = [
  'consecutive-failures',
  'failure-rate',
  'slow-call-rate',
  'retry-after',
  'timeout-elapsed',
  'trial-failure',
  'trial-success',
  'recovery-failure',
  'probe-expired',
  'force-open',
  'disable',
  'reset',
  'remote',
] as const;

/** Why a breaker changed state. */
export type TransitionReason = (typeof TRANSITION_REASONS)[number];

/** Payload of `state-change`. */
export interface StateChangeEvent {
  from: BreakerState;
  to: BreakerState;
  reason: TransitionReason;
  /** Clock time of the change. */
  at: number;
}

/** Payload of `open`. */
export interface OpenEvent extends StateChangeEvent {
  /** How long the breaker stays open, in milliseconds. */
  retryAfterMs: number;
  /** Trips since the breaker last closed, this one included. */
  trips: number;
}

/** Payload of `success`. */
export interface SuccessEvent {
  durationMs: number;
  /** The call counted as slow (`slowCallDuration`). */
  slow: boolean;
  /** The call started before the last state change, so its outcome changed nothing. */
  stale: boolean;
}

/** Payload of `failure`. */
export interface FailureEvent extends SuccessEvent {
  error: unknown;
}

/** Payload of `ignored`: an error that `isFailure` turned down, or a caller's abort. */
export interface IgnoredEvent {
  error: unknown;
  durationMs: number;
  stale: boolean;
}

/** Payload of `timeout`. */
export interface TimeoutEvent {
  error: CallTimeoutError;
  stale: boolean;
}

/** Payload of `reject`. */
export interface RejectEvent {
  error: BreakerOpenError;
}

/** Payload of `store-error`: the store could not be reached; the breaker went on with local state. */
export interface StoreErrorEvent {
  error: unknown;
}

/** Every event a breaker emits, by name. */
export interface BreakerEvents {
  'state-change': StateChangeEvent;
  open: OpenEvent;
  'half-open': StateChangeEvent;
  close: StateChangeEvent;
  success: SuccessEvent;
  failure: FailureEvent;
  ignored: IgnoredEvent;
  timeout: TimeoutEvent;
  reject: RejectEvent;
  'store-error': StoreErrorEvent;
}

/** A listener for event `K` of map `E`. */
export type Listener<E, K extends keyof E> = (event: E[K]) => void;

/**
 * A small typed emitter. A listener that throws is reported as a process warning
 * and never reaches the code that emitted the event.
 */
export class Emitter<E extends object> {
  // Made on the first `on`, so objects nobody listens to stay small.
  #listeners: { [K in keyof E]?: Listener<E, K>[] } | undefined;

  /** Adds a listener and returns a function that removes it. */
  on<K extends keyof E>(name: K, listener: Listener<E, K>): () => void {
    const listeners: { [K in keyof E]?: Listener<E, K>[] } = (this.#listeners ??= {});
    const list = listeners[name];
    // A fresh array on every change, so an emit in progress keeps the list it started with.
    listeners[name] = list === undefined ? [listener] : [...list, listener];
    this.onListenerAdded(name);
    return () => this.off(name, listener);
  }

  /** Removes a listener added with {@link Emitter.on}. */
  off<K extends keyof E>(name: K, listener: Listener<E, K>): void {
    const listeners = this.#listeners;
    const list = listeners?.[name];
    if (listeners === undefined || list === undefined) return;
    const index = list.indexOf(listener);
    if (index === -1) return;
    const next = list.filter((_, i) => i !== index);
    if (next.length === 0) delete listeners[name];
    else listeners[name] = next;
    this.onListenerRemoved(name);
  }

  /** How many listeners wait for `name`. */
  listenerCount(name: keyof E): number {
    return this.#listeners?.[name]?.length ?? 0;
  }

  /** Whether any listener waits for `name`. */
  protected listens(name: keyof E): boolean {
    return this.#listeners?.[name] !== undefined;
  }

  /** Called after a listener is added; subclasses start work that only listeners need. */
  protected onListenerAdded(_name: keyof E): void {}

  /** Called after a listener is removed. */
  protected onListenerRemoved(_name: keyof E): void {}

  protected emit<K extends keyof E>(name: K, event: E[K]): void {
    const list = this.#listeners?.[name];
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (error) {
        reportListenerError(String(name), error);
      }
    }
  }
}

function reportListenerError(name: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`A listener for the "${name}" event threw: ${detail}`, {
    code: 'BREAKER_LISTENER_ERROR',
  });
}
