export {
  ClientClosedError,
  HttpGuard,
  HttpStatusError,
  RequestCall,
  isBreakerAnswer,
  markBreakerAnswer,
  observeResponse,
  takeOver,
  type Rejection,
} from './guard.js';
export {
  defaultIsHttpFailure,
  resolveHttpOptions,
  type FallbackInfo,
  type FallbackReason,
  type HttpBreakerOptions,
  type HttpOutcome,
  type ResolvedHttpOptions,
} from './options.js';
export {
  openAnswer,
  rejectionReason,
  timeoutAnswer,
  toHttpError,
  type HttpAnswer,
  type HttpBreakerOpenError,
  type ProblemDetails,
} from './problem.js';
export { parseRetryAfter, retryAfterSeconds } from './retryAfter.js';
export { describe as describeValue } from '../validation.js';
