import { Counter, Gauge, Histogram, register as globalRegister } from 'prom-client';
import { CallTimeoutError, BreakerRegistry, type BreakerState, type CircuitBreaker } from '@breaker/core';
import { BreakerLabels, OVERFLOW_LABEL } from './labels.js';
import { invalid, resolveMetricsOptions, type MetricsOptions } from './options.js';

/** The `outcome` label of the calls counter. */
export type CallOutcome = 'success' | 'failure' | 'timeout' | 'rejected' | 'ignored';

/** A running collection, from {@link collectMetrics}. */
export interface BreakerMetrics {
  /** Stops collecting: removes every listener it added and its metrics from the register. Idempotent. */
  stop(): void;
}

const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'forced-open', 'disabled'];
const OUTCOMES: readonly CallOutcome[] = ['success', 'failure', 'timeout', 'rejected', 'ignored'];
const TIMED_OUTCOMES: readonly CallOutcome[] = ['success', 'failure', 'timeout', 'ignored'];

interface Tracked {
  /** The `breaker` label value, taken on first use. */
  label: string | undefined;
  unsubscribe: (() => void)[];
}

/**
 * Registers prom-client metrics for every breaker of `registry`, those it holds now and those it makes
 * later, until `stop()`: state, calls by outcome, call durations, transitions, time until half-open, and
 * lookups sent to an overflow breaker.
 */
export function collectMetrics(registry: BreakerRegistry, options?: MetricsOptions): BreakerMetrics {
  if (!(registry instanceof BreakerRegistry))
    throw invalid('registry', 'a BreakerRegistry (the first argument)', registry);
  const { register = globalRegister, prefix, maxBreakers, buckets } = resolveMetricsOptions(options);
  const names = {
    state: `${prefix}state`,
    calls: `${prefix}calls_total`,
    duration: `${prefix}call_duration_seconds`,
    transitions: `${prefix}transitions_total`,
    halfOpenIn: `${prefix}time_to_half_open_seconds`,
    overflow: `${prefix}overflow_total`,
  };
  for (const name of Object.values(names)) {
    if (register.getSingleMetric(name) !== undefined) {
      throw invalid(
        'prefix',
        `a prefix whose metrics the register does not hold yet (stop() the earlier collection, or pass another prefix or register); "${name}" is taken`,
        prefix,
      );
    }
  }

  const labels = new BreakerLabels(maxBreakers);
  const tracked = new Map<CircuitBreaker, Tracked>();
  const byName = new Map<string, CircuitBreaker>();
  const registers = [register];

  // The registry may drop a breaker without an event (`delete()`, `dispose()`): catch up at each scrape.
  const sync = (): void => {
    for (const breaker of tracked.keys()) {
      if (registry.peek(breaker.name) !== breaker) untrack(breaker);
    }
  };

  const state = new Gauge({
    name: names.state,
    help: 'Breakers in each state: 1 for the state a breaker is in and 0 for the others (under "__other__", how many breakers).',
    labelNames: ['breaker', 'state'],
    registers,
    collect() {
      sync();
      this.reset();
      const perLabel = new Map<string, Record<BreakerState, number>>();
      for (const [breaker, entry] of tracked) {
        const label = labelOf(entry, breaker.name);
        let counts = perLabel.get(label);
        if (counts === undefined) {
          counts = { closed: 0, open: 0, 'half-open': 0, 'forced-open': 0, disabled: 0 };
          perLabel.set(label, counts);
        }
        counts[breaker.state]++;
      }
      for (const [label, counts] of perLabel) {
        for (const s of STATES) this.set({ breaker: label, state: s }, counts[s]);
      }
    },
  });
  const calls = new Counter({
    name: names.calls,
    help: 'Calls by outcome: success, failure, timeout (a call past callTimeout), rejected (turned away while open) or ignored.',
    labelNames: ['breaker', 'outcome'],
    registers,
    collect: sync,
  });
  const duration = new Histogram({
    name: names.duration,
    help: 'Duration of the calls a breaker admitted, in seconds, by outcome.',
    labelNames: ['breaker', 'outcome'],
    buckets,
    registers,
    collect: sync,
  });
  const transitions = new Counter({
    name: names.transitions,
    help: 'State changes, by the state entered.',
    labelNames: ['breaker', 'to'],
    registers,
    collect: sync,
  });
  const halfOpenIn = new Gauge({
    name: names.halfOpenIn,
    help: 'Seconds until an open breaker lets a trial call through; 0 when not open (under "__other__", the longest).',
    labelNames: ['breaker'],
    registers,
    collect() {
      sync();
      this.reset();
      const perLabel = new Map<string, number>();
      for (const [breaker, entry] of tracked) {
        const label = labelOf(entry, breaker.name);
        const { state: current, retryAfterMs } = breaker.stats();
        const seconds = current === 'open' ? retryAfterMs / 1_000 : 0;
        perLabel.set(label, Math.max(perLabel.get(label) ?? 0, seconds));
      }
      for (const [label, seconds] of perLabel) this.set({ breaker: label }, seconds);
    },
  });
  const overflow = new Counter({
    name: names.overflow,
    help: 'Lookups of names a full registry refused a breaker of their own (all it held were open), by the overflow breaker that took them.',
    labelNames: ['breaker'],
    registers,
    collect: sync,
  });
  const metrics = [
    [names.state, state],
    [names.calls, calls],
    [names.duration, duration],
    [names.transitions, transitions],
    [names.halfOpenIn, halfOpenIn],
    [names.overflow, overflow],
  ] as const;
  let overflowSeen = false;

  function zero(label: string): void {
    for (const outcome of OUTCOMES) calls.inc({ breaker: label, outcome }, 0);
    for (const to of STATES) transitions.inc({ breaker: label, to }, 0);
  }

  // The label is taken on first use rather than on `add`: the registry announces a new breaker before it
  // evicts an old one, and the evicted breaker's label should go to the new one.
  function labelOf(entry: Tracked, name: string): string {
    if (entry.label !== undefined) return entry.label;
    const label = labels.take(name);
    entry.label = label;
    if (label !== OVERFLOW_LABEL || !overflowSeen) zero(label);
    if (label === OVERFLOW_LABEL) overflowSeen = true;
    return label;
  }

  function track(breaker: CircuitBreaker): Tracked {
    const known = tracked.get(breaker);
    if (known !== undefined) return known;
    const previous = byName.get(breaker.name);
    if (previous !== undefined) untrack(previous);
    const name = breaker.name;
    const entry: Tracked = { label: undefined, unsubscribe: [] };
    const count = (outcome: CallOutcome, durationMs?: number): void => {
      const label = labelOf(entry, name);
      calls.inc({ breaker: label, outcome });
      if (durationMs !== undefined) duration.observe({ breaker: label, outcome }, durationMs / 1_000);
    };
    entry.unsubscribe = [
      breaker.on('success', ({ durationMs }) => count('success', durationMs)),
      // A timeout emits `failure` too: count it once, as a timeout.
      breaker.on('failure', ({ error, durationMs }) =>
        count(error instanceof CallTimeoutError ? 'timeout' : 'failure', durationMs),
      ),
      breaker.on('ignored', ({ durationMs }) => count('ignored', durationMs)),
      breaker.on('reject', () => count('rejected')),
      breaker.on('state-change', ({ to }) => transitions.inc({ breaker: labelOf(entry, name), to })),
    ];
    tracked.set(breaker, entry);
    byName.set(name, breaker);
    return entry;
  }

  function untrack(breaker: CircuitBreaker): void {
    const entry = tracked.get(breaker);
    if (entry === undefined) return;
    tracked.delete(breaker);
    if (byName.get(breaker.name) === breaker) byName.delete(breaker.name);
    for (const unsubscribe of entry.unsubscribe) unsubscribe();
    const { label } = entry;
    // The overflow series are shared with the breakers still there, so they stay.
    if (label === undefined || label === OVERFLOW_LABEL) return;
    labels.release(label);
    for (const outcome of OUTCOMES) calls.remove({ breaker: label, outcome });
    for (const outcome of TIMED_OUTCOMES) duration.remove({ breaker: label, outcome });
    for (const to of STATES) transitions.remove({ breaker: label, to });
    overflow.remove({ breaker: label });
  }

  function countOverflow(breaker: CircuitBreaker): void {
    overflow.inc({ breaker: labelOf(track(breaker), breaker.name) });
  }

  for (const breaker of registry) track(breaker);
  const offRegistry = [
    registry.on('add', ({ breaker }) => track(breaker)),
    registry.on('evict', ({ breaker }) => untrack(breaker)),
    registry.on('overflow', ({ breaker }) => countOverflow(breaker)),
  ];

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const off of offRegistry) off();
      for (const breaker of [...tracked.keys()]) untrack(breaker);
      for (const [name, metric] of metrics) {
        if (register.getSingleMetric(name) === metric) register.removeSingleMetric(name);
      }
    },
  };
}
