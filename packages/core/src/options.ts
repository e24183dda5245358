import { z } from 'zod';
import { systemClock, type Clock } from './clock.js';
import { clock, fn, optionError, millis, parseOptions, whole } from './validation.js';
import { snapshotSchema, type BreakerSnapshot } from './snapshot.js';
import type { StateStore } from './store.js';

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_SUCCESS_THRESHOLD = 1;
export const DEFAULT_TIMEOUT = 10_000;
export const DEFAULT_MAX_TIMEOUT = 300_000;
export const DEFAULT_HALF_OPEN_MAX_CONCURRENT = 1;
export const DEFAULT_MINIMUM_CALLS = 10;
export const DEFAULT_COUNT_WINDOW_SIZE = 100;
export const DEFAULT_TIME_WINDOW_BUCKETS = 10;
export const DEFAULT_NAME = 'breaker';

/** A sliding window of the most recent calls. */
export interface CountWindowOptions {
  type: 'count';
  /** How many recent calls the window holds (default 100). */
  size?: number;
}

/** A sliding window of the calls in the last `duration` milliseconds. */
export interface TimeWindowOptions {
  type: 'time';
  /** Length of the window in milliseconds. */
  duration: number;
  /** How many slices the window is cut into; old slices leave whole (default 10). */
  buckets?: number;
}

/** Options of {@link CircuitBreaker}; every one has a default. */
export interface BreakerOptions {
  /** Name used in errors, events, metrics and the store (default `"breaker"`). */
  name?: string;
  /** Consecutive failures that open the breaker (default 5; off when a rate rule is set and this is not). */
  failureThreshold?: number;
  /** Consecutive successful trial calls that close a half-open breaker (default 1). */
  successThreshold?: number;
  /** Milliseconds the breaker stays open before it lets a trial call through (default 10 000). */
  timeout?: number;
  /** Each trip without a close in between multiplies the open time by this (default 1: no growth). */
  timeoutMultiplier?: number;
  /** Longest open time, for growth and for an error's own `retryAfterMs` (default the larger of `timeout` and 300 000). */
  maxTimeout?: number;
  /** Share of the open time, 0 to 1, taken off at random so replicas do not probe in step (default 0). */
  timeoutJitter?: number;
  /** Trial calls allowed at once while half-open (default 1). */
  halfOpenMaxConcurrent?: number;
  /** A trial call that has not settled after this many milliseconds counts as failed (default `timeout`, at least `callTimeout`). */
  halfOpenPermitTimeout?: number;
  /** Per-call deadline in milliseconds; off by default. */
  callTimeout?: number;
  /** After a recovery, admit traffic on a ramp for this many milliseconds (default 0: all at once). */
  recoveryDuration?: number;
  /** Percentage of calls admitted when the ramp starts; it grows to 100 % (default 10). */
  recoveryInitialRate?: number;
  /** Decides whether an error counts against the upstream; `false` counts neither way (default: every error counts). */
  isFailure?: (error: unknown) => boolean;
  /** The window for rate rules (default the last 100 calls). */
  window?: CountWindowOptions | TimeWindowOptions;
  /** Calls the window must hold before a rate rule may open the breaker (default 10). */
  minimumCalls?: number;
  /** Failure rate, in percent, that opens the breaker; off by default. */
  failureRateThreshold?: number;
  /** Calls that take at least this many milliseconds count as slow; off by default. */
  slowCallDuration?: number;
  /** Slow-call rate, in percent, that opens the breaker; needs `slowCallDuration`. */
  slowCallRateThreshold?: number;
  /** Source of time and timers (default the system clock). */
  clock?: Clock;
  /** Source of randomness for `timeoutJitter`, returning [0, 1) (default `Math.random`). */
  random?: () => number;
  /** Where state changes and counts are shared; local only by default. */
  store?: StateStore;
  /** A snapshot from `toJSON()` to resume from. */
  initialState?: BreakerSnapshot;
}

/** Options after defaults, as a breaker uses them. */
export interface ResolvedOptions {
  readonly name: string;
  readonly failureThreshold: number;
  readonly successThreshold: number;
  readonly timeout: number;
  readonly timeoutMultiplier: number;
  readonly maxTimeout: number;
  readonly timeoutJitter: number;
  readonly halfOpenMaxConcurrent: number;
  readonly halfOpenPermitTimeout: number;
  readonly callTimeout: number | undefined;
  readonly recoveryDuration: number;
  readonly recoveryInitialRate: number;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly window:
    | { readonly type: 'count'; readonly size: number }
    | { readonly type: 'time'; readonly duration: number; readonly buckets: number }
    | undefined;
  readonly minimumCalls: number;
  readonly failureRateThreshold: number | undefined;
  readonly slowCallDuration: number | undefined;
  readonly slowCallRateThreshold: number | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly store: StateStore | undefined;
  readonly initialState: BreakerSnapshot | undefined;
}

const percent = z
  .number({ error: 'a percentage above 0 and at most 100' })
  .gt(0, { error: 'a percentage above 0 and at most 100' })
  .max(100, { error: 'a percentage above 0 and at most 100' });

const storeSchema = z.custom<StateStore>(
  (value) =>
    typeof value === 'object' && value !== null && typeof (value as StateStore).connect === 'function',
  { error: 'a StateStore (an object with connect())' },
);

const windowSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('count'), size: whole(1, 1_000_000).optional() }),
    z.strictObject({
      type: z.literal('time'),
      duration: millis(1),
      buckets: whole(1, 10_000).optional(),
    }),
  ],
  { error: '{ type: "count", size } or { type: "time", duration, buckets }' },
);

const optionsSchema = z.strictObject({
  name: z.string({ error: 'a non-empty string' }).min(1, { error: 'a non-empty string' }).optional(),
  failureThreshold: whole(1).optional(),
  successThreshold: whole(1).optional(),
  timeout: millis(0).optional(),
  timeoutMultiplier: z
    .number({ error: 'a finite number of at least 1' })
    .min(1, { error: 'a finite number of at least 1' })
    .finite({ error: 'a finite number of at least 1' })
    .optional(),
  maxTimeout: millis(0).optional(),
  timeoutJitter: z
    .number({ error: 'a number from 0 to 1' })
    .min(0, { error: 'a number from 0 to 1' })
    .max(1, { error: 'a number from 0 to 1' })
    .optional(),
  halfOpenMaxConcurrent: whole(1).optional(),
  halfOpenPermitTimeout: millis(1).optional(),
  callTimeout: millis(1).optional(),
  recoveryDuration: millis(0).optional(),
  recoveryInitialRate: percent.optional(),
  isFailure: fn('a function (error) => boolean').optional(),
  window: windowSchema.optional(),
  minimumCalls: whole(1).optional(),
  failureRateThreshold: percent.optional(),
  slowCallDuration: millis(0).optional(),
  slowCallRateThreshold: percent.optional(),
  clock: clock.optional(),
  random: fn('a function returning a number in [0, 1)').optional(),
  store: storeSchema.optional(),
  initialState: snapshotSchema.optional(),
});

/** Option names other libraries use, and what they are called here. */
const FOREIGN_NAMES: Record<string, string> = {
  resetTimeout: '`timeout` (how long the breaker stays open; opossum calls it resetTimeout)',
  errorThresholdPercentage: '`failureRateThreshold` (a percentage, as in opossum)',
  volumeThreshold: '`minimumCalls`',
  rollingCountTimeout: '`window: { type: "time", duration }`',
  rollingCountBuckets: '`window: { type: "time", duration, buckets }`',
  errorFilter:
    '`isFailure` (note the inversion: opossum`s errorFilter returns true to ignore an error, isFailure returns false)',
  capacity: '`bulkhead({ maxConcurrent })`, a policy to compose with the breaker',
  rampUpDuration: '`recoveryDuration`',
  halfOpenAfter: '`timeout` (how long the breaker stays open; cockatiel calls it halfOpenAfter)',
  breaker: '`failureThreshold` (consecutive) or `failureRateThreshold` with `window` (sampling)',
  waitDurationInOpenState: '`timeout`',
  slidingWindowSize: '`window: { type: "count", size }`',
  slidingWindowType: '`window: { type: "count" | "time" }`',
  minimumNumberOfCalls: '`minimumCalls`',
  slowCallDurationThreshold: '`slowCallDuration`',
  permittedNumberOfCallsInHalfOpenState: '`halfOpenMaxConcurrent`',
  maxWaitDurationInHalfOpenState: '`halfOpenPermitTimeout`',
  durationOfBreak: '`timeout`',
  failureRatio: '`failureRateThreshold` (a percentage: 0.5 becomes 50)',
  minimumThroughput: '`minimumCalls`',
  samplingDuration: '`window: { type: "time", duration }`',
};

/** Marks options resolved already, so breakers made from one configuration share it. */
export const RESOLVED: unique symbol = Symbol('breaker.resolved');

/** Options resolved once by {@link resolveOptions}, for another breaker named `name`. */
export function withName(resolved: ResolvedOptions, name: string): BreakerOptions {
  return { [RESOLVED]: resolved, name } as BreakerOptions;
}

/**
 * The options a breaker uses: checked and completed, or, when made by {@link withName}, a view of a
 * shared configuration that differs only in its name, so that many keyed breakers cost little memory.
 */
export function breakerOptions(options: BreakerOptions | undefined): ResolvedOptions {
  const resolved = (options as { [RESOLVED]?: ResolvedOptions } | undefined)?.[RESOLVED];
  if (resolved === undefined) return compact(resolveOptions(options));
  const name = options!.name!;
  return resolved.name === name
    ? resolved
    : (Object.create(resolved, { name: { value: name, enumerable: true } }) as ResolvedOptions);
}

let defaults: ResolvedOptions | undefined;

/**
 * The same options as an object that holds only what differs from the defaults and inherits the
 * rest from one shared, frozen object of defaults: a breaker that sets only its name carries one field.
 */
function compact(full: ResolvedOptions): ResolvedOptions {
  const base = (defaults ??= Object.freeze(resolveOptions(undefined)));
  const own: PropertyDescriptorMap = {};
  for (const [key, value] of Object.entries(full)) {
    if (base[key as keyof ResolvedOptions] !== value) own[key] = { value, enumerable: true };
  }
  return Object.create(base, own) as ResolvedOptions;
}

/** Checks options once and fills in defaults; throws {@link InvalidOptionError} (a `TypeError`) on the first problem. */
export function resolveOptions(
  options: BreakerOptions | undefined,
  context = 'CircuitBreaker',
  extraKeys: readonly string[] = [],
): ResolvedOptions {
  const o = parseOptions(optionsSchema, options, context, FOREIGN_NAMES, extraKeys);

  const rateRule = o.failureRateThreshold !== undefined || o.slowCallRateThreshold !== undefined;
  const timeout = o.timeout ?? DEFAULT_TIMEOUT;
  const maxTimeout = o.maxTimeout ?? Math.max(timeout, DEFAULT_MAX_TIMEOUT);
  if (maxTimeout < timeout) {
    throw invalid(context, 'maxTimeout', `at least \`timeout\` (${timeout})`, maxTimeout);
  }
  if (o.slowCallRateThreshold !== undefined && o.slowCallDuration === undefined) {
    throw invalid(
      context,
      'slowCallDuration',
      'a number of milliseconds when `slowCallRateThreshold` is set',
      undefined,
    );
  }
  const window = resolveWindow(o.window, rateRule);
  const minimumCalls = o.minimumCalls ?? DEFAULT_MINIMUM_CALLS;
  if (window?.type === 'count' && minimumCalls > window.size) {
    throw invalid(
      context,
      'minimumCalls',
      `at most the window size (${window.size}), or the rate rule could never open the breaker`,
      minimumCalls,
    );
  }
  if (o.initialState !== undefined && o.name !== undefined && o.initialState.name !== o.name) {
    throw invalid(context, 'initialState.name', `the breaker's own name "${o.name}"`, o.initialState.name);
  }

  return {
    name: o.name ?? o.initialState?.name ?? DEFAULT_NAME,
    failureThreshold: o.failureThreshold ?? (rateRule ? Number.POSITIVE_INFINITY : DEFAULT_FAILURE_THRESHOLD),
    successThreshold: o.successThreshold ?? DEFAULT_SUCCESS_THRESHOLD,
    timeout,
    timeoutMultiplier: o.timeoutMultiplier ?? 1,
    maxTimeout,
    timeoutJitter: o.timeoutJitter ?? 0,
    halfOpenMaxConcurrent: o.halfOpenMaxConcurrent ?? DEFAULT_HALF_OPEN_MAX_CONCURRENT,
    halfOpenPermitTimeout: o.halfOpenPermitTimeout ?? Math.max(timeout, o.callTimeout ?? 0, 1),
    callTimeout: o.callTimeout,
    recoveryDuration: o.recoveryDuration ?? 0,
    recoveryInitialRate: o.recoveryInitialRate ?? 10,
    isFailure: o.isFailure as ((error: unknown) => boolean) | undefined,
    window,
    minimumCalls,
    failureRateThreshold: o.failureRateThreshold,
    slowCallDuration: o.slowCallDuration,
    slowCallRateThreshold: o.slowCallRateThreshold,
    clock: o.clock ?? systemClock,
    random: (o.random as (() => number) | undefined) ?? Math.random,
    store: o.store,
    initialState: o.initialState,
  };
}

function resolveWindow(
  window: z.infer<typeof windowSchema> | undefined,
  rateRule: boolean,
): ResolvedOptions['window'] {
  if (window === undefined) {
    return rateRule ? { type: 'count', size: DEFAULT_COUNT_WINDOW_SIZE } : undefined;
  }
  if (window.type === 'count') return { type: 'count', size: window.size ?? DEFAULT_COUNT_WINDOW_SIZE };
  return { type: 'time', duration: window.duration, buckets: window.buckets ?? DEFAULT_TIME_WINDOW_BUCKETS };
}

const invalid = optionError;
