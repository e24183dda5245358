export {
  ClientClosedError,
  HttpGuard,
  HttpStatusError,
  RequestCall,
  isBreakerAnswer,
  markBreakerAnswer,
  noteRejections,
  observeResponse,
  takeOver,
  type Entry,
} from './guard.js';
export {
  HTTP_BULKHEAD_HINTS,
  bulkheadLimit,
  KeyedCache,
  httpBulkheadSchema,
  isBusy,
  takeSlot,
  type HttpBulkheadOptions,
  type ReleaseSlot,
} from './bulkhead.js';
export {
  DEFAULT_RETRY_METHODS,
  HTTP_RETRY_HINTS,
  RetrySchedule,
  httpRetrySchema,
  isReplayable,
  resolveHttpRetry,
  type HttpRetryOptions,
  type ResolvedHttpRetry,
} from './retry.js';
export {
  defaultIsHttpFailure,
  resolveHttpOptions,
  resolveHttpPolicies,
  type HttpPolicies,
  type FallbackInfo,
  type FallbackReason,
  type HttpBreakerOptions,
  type HttpOutcome,
  type ResolvedHttpOptions,
} from './options.js';
export {
  Rejection,
  bulkheadAnswer,
  openAnswer,
  rejectionReason,
  timeoutAnswer,
  toHttpError,
  type HttpAnswer,
  type HttpBreakerOpenError,
  type HttpErrorFields,
  type HttpRejectionError,
  type ProblemDetails,
  type RejectionReason,
} from './problem.js';
export {
  BUCKETS_ALLOWED,
  MAX_BREAKERS_ALLOWED,
  checkOptionKeys,
  invalidOption,
  isBucketBounds,
  isMaxBreakers,
} from './metricOptions.js';
export { parseRetryAfter, retryAfterSeconds } from './retryAfter.js';
export { describe as describeValue } from '../validation.js';
