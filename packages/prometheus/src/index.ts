export { collectMetrics, type BreakerMetrics, type CallOutcome } from './collectMetrics.js';
export { OVERFLOW_LABEL } from './labels.js';
export { DEFAULT_BUCKETS, DEFAULT_MAX_BREAKERS, DEFAULT_PREFIX, type MetricsOptions } from './options.js';
