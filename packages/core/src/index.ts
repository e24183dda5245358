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
export { Emitter, TRANSITION_REASONS, type Listener } from './events.js';
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
export { MAX_ROUND, parseSharedState, type BreakerSnapshot } from './snapshot.js';
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
export { BulkheadRejectedError, type BulkheadRejection } from './policies/BulkheadRejectedError.js';
export {
  bulkhead,
  type BulkheadEvents,
  type BulkheadPolicy,
  type BulkheadStats,
} from './policies/BulkheadPolicy.js';
export {
  DEFAULT_BULKHEAD_MAX_QUEUE,
  DEFAULT_BULKHEAD_NAME,
  type BulkheadOptions,
  type ResolvedBulkheadOptions,
} from './policies/bulkheadOptions.js';
export { compose, type ComposedPolicy, type FallbackOf } from './policies/compose.js';
export {
  fallback,
  fallbackReason,
  type FallbackEvent,
  type FallbackEvents,
  type FallbackHandler,
  type FallbackOptions,
  type FallbackPolicy,
  type FallbackStats,
  type PolicyFallbackReason,
} from './policies/FallbackPolicy.js';
export type { ExecuteOptions, Fireable, Guard, Guarded, Policy } from './policies/Policy.js';
export type { RetryBudgetStats } from './policies/RetryBudget.js';
export {
  retry,
  type GiveUpEvent,
  type GiveUpReason,
  type RetryEvent,
  type RetryEvents,
  type RetryPolicy,
  type RetryStats,
} from './policies/RetryPolicy.js';
export {
  DEFAULT_RETRY_ATTEMPTS,
  DEFAULT_RETRY_BASE_DELAY,
  DEFAULT_RETRY_BUDGET_MIN_PER_SECOND,
  DEFAULT_RETRY_BUDGET_RATIO,
  DEFAULT_RETRY_BUDGET_WINDOW,
  DEFAULT_RETRY_MAX_DELAY,
  type ResolvedRetryOptions,
  type RetryBudgetOptions,
  type RetryOptions,
} from './policies/retryOptions.js';
