export { CircuitBreaker, type CallPermit, type FireOptions } from './CircuitBreaker.js';
export type { FireContext } from './context.js';
export { systemClock, type Clock, type TimerHandle } from './clock.js';
export {
  BreakerError,
  BreakerOpenError,
  CallTimeoutError,
  InvalidOptionError,
  type RejectingState,
} from './errors.js';
export { Emitter, type Listener } from './events.js';
export type {
  BreakerEvents,
  FailureEvent,
  IgnoredEvent,
  OpenEvent,
  RejectEvent,
  StateChangeEvent,
  StoreErrorEvent,
  SuccessEvent,
  TimeoutEvent,
  TransitionReason,
} from './events.js';
export {
  DEFAULT_COUNT_WINDOW_SIZE,
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_HALF_OPEN_MAX_CONCURRENT,
  DEFAULT_MAX_TIMEOUT,
  DEFAULT_MINIMUM_CALLS,
  DEFAULT_NAME,
  DEFAULT_SUCCESS_THRESHOLD,
  DEFAULT_TIME_WINDOW_BUCKETS,
  DEFAULT_TIMEOUT,
  resolveOptions,
  type BreakerOptions,
  type CountWindowOptions,
  type ResolvedOptions,
  type TimeWindowOptions,
} from './options.js';
export {
  BreakerRegistry,
  DEFAULT_REGISTRY_MAX_SIZE,
  type RegistryEvents,
  type RegistryOptions,
} from './registry.js';
export type { BreakerSnapshot } from './snapshot.js';
export type { BreakerState } from './state.js';
export type { BreakerStats } from './stats.js';
export {
  MemoryStore,
  type MemoryStoreEntry,
  type OutcomeBatch,
  type SharedState,
  type StateStore,
  type StoreReplica,
  type StoreSession,
} from './store.js';
export { CountWindow, TimeWindow, type SlidingWindow, type WindowCounts } from './windows/index.js';
