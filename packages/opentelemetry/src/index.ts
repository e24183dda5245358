export { instrument, type Instrumentation } from './instrument.js';
export { ATTR, METRIC, SPAN_EVENT, type CallOutcome, type StateChangeRecord } from './attributes.js';
export {
  DEFAULT_BUCKETS,
  DEFAULT_MAX_BREAKERS,
  type InstrumentOptions,
  type InstrumentTarget,
  type WatchedPolicy,
} from './options.js';
export { OVERFLOW_LABEL } from './labels.js';
