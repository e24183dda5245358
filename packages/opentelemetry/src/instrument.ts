import { metrics, type Attributes, type BatchObservableResult, type Observable } from '@opentelemetry/api';
import {
  BreakerRegistry,
  CallTimeoutError,
  CircuitBreaker,
  type BreakerState,
  type BreakerStats,
  type BulkheadRejectedError,
  type FallbackEvent,
} from '@breaker/core';
import { ATTR, METRIC, OUTCOMES, STATES, type CallOutcome } from './attributes.js';
import { NameLabels } from './labels.js';
import {
  checkTarget,
  resolveInstrumentOptions,
  type InstrumentOptions,
  type InstrumentTarget,
} from './options.js';
import { breakerOf, bulkheadRejected, fellBack, watchBreaker } from './spans.js';
import { VERSION } from './version.js';

/** A running instrumentation, from {@link instrument}. */
export interface Instrumentation {
  /** Stops: removes every listener and callback it added; observable series are no longer reported. Idempotent. */
  stop(): void;
}

/** Totals kept here, per breaker (or, for breakers gone from `__other__`, per label). */
interface Tallies {
  /** State changes by `from|to|reason`. */
  transitions: Map<string, number>;
  overflow: number;
}

interface Tracked extends Tallies {
  /** The `breaker.name` value, taken on first use. */
  label: string | undefined;
  /** Attributes of the duration histogram, by outcome, made once the label is known. */
  timed: Record<'success' | 'failure' | 'timeout' | 'ignored', Attributes> | undefined;
  off: (() => void)[];
  /** Calls counted before the breaker's `reset()`, which zeroes its own counts. */
  carried: Totals;
  /** The breaker's own counts at the last reading. */
  last: Totals;
}

type Totals = Record<CallOutcome, number>;
/** How many callbacks report a label in no state after its last breaker left (shared among readers). */
const DEPARTED_REPORTS = 5;
const noCalls = (): Totals => ({ success: 0, failure: 0, timeout: 0, rejected: 0, ignored: 0 });

/**
 * Reports every breaker of `target` (a registry, with the breakers it makes later; one breaker; or
 * several) to OpenTelemetry until `stop()`: metrics from a meter named `@breaker/opentelemetry`, and
 * span events on the active span when a breaker or bulkhead turns a call away, a call times out, or a
 * fallback answers. The observable figures read the breakers' own stats at each collection and cost
 * nothing per call; only the duration histogram, with `durations: true`, does.
 */
export function instrument(target: InstrumentTarget, options?: InstrumentOptions): Instrumentation {
  checkTarget(target);
  const o = resolveInstrumentOptions(options);
  const meter = (o.meterProvider ?? metrics.getMeterProvider()).getMeter('@breaker/opentelemetry', VERSION);
  const registry = target instanceof BreakerRegistry ? target : undefined;
  const labels = new NameLabels(o.maxBreakers);
  const tracked = new Map<CircuitBreaker, Tracked>();
  /**
   * What breakers that left had counted, by label: a breaker of the same name (or another under
   * `__other__`) goes on from there, so no counter ever goes down.
   */
  const retired = new Map<string, { calls: Totals } & Tallies>();
  /**
   * Labels whose last breaker left, with how many more callbacks report them in no state (the SDK runs
   * the callback once per reader and collection), then no more.
   */
  const departed = new Map<string, number>();

  const status = meter.createObservableUpDownCounter(METRIC.status, {
    description:
      'Breakers in each state: 1 for the state a breaker is in and 0 for the others (summed under "__other__").',
    unit: '{breaker}',
  });
  const calls = meter.createObservableCounter(METRIC.calls, {
    description:
      'Calls by outcome: success, failure, timeout (past callTimeout), rejected (turned away while open) or ignored.',
    unit: '{call}',
  });
  const transitions = meter.createObservableCounter(METRIC.transitions, {
    description: 'State changes, by the state left, the state entered and the reason.',
    unit: '{transition}',
  });
  const openRemaining = meter.createObservableGauge(METRIC.openRemaining, {
    description:
      'Seconds until an open breaker lets a trial call through; 0 when not open (the longest under "__other__").',
    unit: 's',
  });
  const overflow = meter.createObservableCounter(METRIC.overflow, {
    description:
      'Lookups of names a full registry refused a breaker of their own (all it held were open), by the overflow breaker that took them.',
    unit: '{lookup}',
  });
  const duration = o.durations
    ? meter.createHistogram(METRIC.duration, {
        description: 'Duration of the calls a breaker admitted, by outcome.',
        unit: 's',
        advice: { explicitBucketBoundaries: o.buckets },
      })
    : undefined;
  const observables: Observable[] = [status, calls, transitions, openRemaining, overflow];

  function labelOf(entry: Tracked, name: string): string {
    if (entry.label === undefined) entry.label = labels.take(name);
    return entry.label;
  }

  function timedAttributes(entry: Tracked, name: string): NonNullable<Tracked['timed']> {
    if (entry.timed !== undefined) return entry.timed;
    const label = labelOf(entry, name);
    const of = (outcome: CallOutcome): Attributes => ({ [ATTR.name]: label, [ATTR.outcome]: outcome });
    entry.timed = {
      success: of('success'),
      failure: of('failure'),
      timeout: of('timeout'),
      ignored: of('ignored'),
    };
    return entry.timed;
  }

  function track(breaker: CircuitBreaker): Tracked {
    const known = tracked.get(breaker);
    if (known !== undefined) return known;
    const name = breaker.name;
    const entry: Tracked = {
      label: undefined,
      timed: undefined,
      transitions: new Map(),
      overflow: 0,
      off: [],
      carried: noCalls(),
      last: noCalls(),
    };
    entry.off.push(
      breaker.on('state-change', ({ from, to, reason, at }) => {
        // reset() has zeroed the breaker's counts: what they held at the last reading carries on.
        if (reason === 'reset') carryOver(entry);
        const key = `${from}|${to}|${reason}`;
        entry.transitions.set(key, (entry.transitions.get(key) ?? 0) + 1);
        o.onStateChange?.({
          name,
          from,
          to,
          reason,
          at,
          attributes: {
            [ATTR.name]: name,
            [ATTR.from]: from,
            [ATTR.to]: to,
            [ATTR.transitionReason]: reason,
          },
        });
      }),
    );
    const histogram = duration;
    if (histogram !== undefined) {
      entry.off.push(
        breaker.on('success', ({ durationMs }) =>
          histogram.record(durationMs / 1_000, timedAttributes(entry, name).success),
        ),
        breaker.on('failure', ({ error, durationMs }) => {
          const timed = timedAttributes(entry, name);
          histogram.record(
            durationMs / 1_000,
            error instanceof CallTimeoutError ? timed.timeout : timed.failure,
          );
        }),
        breaker.on('ignored', ({ durationMs }) =>
          histogram.record(durationMs / 1_000, timedAttributes(entry, name).ignored),
        ),
      );
    }
    if (o.spanEvents) entry.off.push(...watchBreaker(breaker));
    tracked.set(breaker, entry);
    return entry;
  }

  function untrack(breaker: CircuitBreaker): void {
    const entry = tracked.get(breaker);
    if (entry === undefined) return;
    tracked.delete(breaker);
    for (const off of entry.off) off();
    const totals = countsOf(breaker, entry);
    // A breaker that leaves before any collection took its label still has counts to keep.
    const counted = OUTCOMES.some((o) => totals[o] > 0) || entry.transitions.size > 0 || entry.overflow > 0;
    const label = entry.label ?? (counted ? labelOf(entry, breaker.name) : undefined);
    if (label === undefined) return;
    let kept = retired.get(label);
    if (kept === undefined) {
      kept = { calls: noCalls(), transitions: new Map(), overflow: 0 };
      retired.set(label, kept);
    }
    addTallies(kept, totals, entry);
    departed.set(label, DEPARTED_REPORTS);
  }

  // The registry may drop a breaker without an event (`delete()`, `dispose()`): catch up at each collection.
  function sync(): void {
    if (registry === undefined) return;
    for (const breaker of tracked.keys()) {
      if (registry.peek(breaker.name) !== breaker) untrack(breaker);
    }
  }

  const observe = (result: BatchObservableResult): void => {
    sync();
    const perLabel = new Map<
      string,
      { states: Record<BreakerState, number>; calls: Totals; remaining: number } & Tallies
    >();
    const slot = (label: string) => {
      let value = perLabel.get(label);
      if (value === undefined) {
        value = {
          states: { closed: 0, open: 0, 'half-open': 0, 'forced-open': 0, disabled: 0 },
          calls: noCalls(),
          remaining: 0,
          transitions: new Map(),
          overflow: 0,
        };
        perLabel.set(label, value);
      }
      return value;
    };
    for (const [breaker, entry] of tracked) {
      const value = slot(labelOf(entry, breaker.name));
      const stats = breaker.stats();
      value.states[stats.state]++;
      if (stats.state === 'open') value.remaining = Math.max(value.remaining, stats.retryAfterMs / 1_000);
      addTallies(value, countsOf(breaker, entry, stats), entry);
    }
    for (const [label, value] of perLabel) {
      departed.delete(label);
      const kept = retired.get(label);
      if (kept !== undefined) addTallies(value, kept.calls, kept);
    }
    // A series an SDK stops hearing of may keep its last value (with cumulative temporality): a label
    // whose breakers all left is reported once in no state, so it does not look open forever.
    for (const [label, left] of departed) {
      for (const state of STATES) result.observe(status, 0, { [ATTR.name]: label, [ATTR.state]: state });
      result.observe(openRemaining, 0, { [ATTR.name]: label });
      if (left <= 1) departed.delete(label);
      else departed.set(label, left - 1);
    }
    for (const [label, value] of perLabel) {
      for (const state of STATES) {
        result.observe(status, value.states[state], { [ATTR.name]: label, [ATTR.state]: state });
      }
      for (const outcome of OUTCOMES) {
        result.observe(calls, value.calls[outcome], { [ATTR.name]: label, [ATTR.outcome]: outcome });
      }
      result.observe(openRemaining, value.remaining, { [ATTR.name]: label });
      for (const [key, count] of value.transitions) {
        const [from, to, reason] = key.split('|');
        result.observe(transitions, count, {
          [ATTR.name]: label,
          [ATTR.from]: from,
          [ATTR.to]: to,
          [ATTR.transitionReason]: reason,
        });
      }
      if (value.overflow > 0) result.observe(overflow, value.overflow, { [ATTR.name]: label });
    }
  };
  meter.addBatchObservableCallback(observe, observables);

  const offTarget: (() => void)[] = [];
  if (registry !== undefined) {
    for (const breaker of registry) track(breaker);
    offTarget.push(
      registry.on('add', ({ breaker }) => track(breaker)),
      registry.on('evict', ({ breaker }) => untrack(breaker)),
      registry.on('overflow', ({ breaker }) => {
        track(breaker).overflow++;
      }),
    );
    if (o.spanEvents) {
      offTarget.push(
        registry.on('bulkhead-reject', ({ name, error }) =>
          bulkheadRejected(error, registry.peek(name), name),
        ),
        registry.on('fallback', ({ name, reason }) => fellBack(reason, registry.peek(name), name)),
      );
    }
  } else {
    for (const breaker of target instanceof CircuitBreaker ? [target] : target) track(breaker);
  }
  if (o.spanEvents) {
    for (const policy of o.policies) {
      const watched = policy as unknown as {
        on(event: 'reject', listener: (event: { error: BulkheadRejectedError }) => void): () => void;
        on(event: 'fallback', listener: (event: FallbackEvent) => void): () => void;
      };
      offTarget.push(
        watched.on('reject', ({ error }) => bulkheadRejected(error, undefined)),
        watched.on('fallback', ({ reason, error }) => fellBack(reason, undefined, breakerOf(error))),
      );
    }
  }

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      meter.removeBatchObservableCallback(observe, observables);
      for (const off of offTarget) off();
      for (const breaker of [...tracked.keys()]) untrack(breaker);
    },
  };
}

/** Adds calls by outcome, transitions and overflow lookups to `into`. */
function addTallies(into: { calls: Totals } & Tallies, calls: Totals, tallies: Tallies): void {
  for (const outcome of OUTCOMES) into.calls[outcome] += calls[outcome];
  for (const [key, count] of tallies.transitions) {
    into.transitions.set(key, (into.transitions.get(key) ?? 0) + count);
  }
  into.overflow += tallies.overflow;
}

/** A breaker's own calls by outcome, from its stats (where a timeout is counted as a failure too). */
function totalsOf(stats: BreakerStats): Totals {
  const { successes, failures, timeouts, rejections, ignored } = stats.counts;
  return {
    success: successes,
    failure: failures - timeouts,
    timeout: timeouts,
    rejected: rejections,
    ignored,
  };
}

/** Adds what the breaker's counts held at the last reading to what carries over its resets. */
function carryOver(entry: Tracked): void {
  for (const outcome of OUTCOMES) entry.carried[outcome] += entry.last[outcome];
  entry.last = noCalls();
}

/**
 * A breaker's calls by outcome since it was tracked, across its resets: counts that went down were
 * zeroed by a `reset()` this instrumentation did not hear of (calls since the reading before it are lost).
 */
function countsOf(breaker: CircuitBreaker, entry: Tracked, stats = breaker.stats()): Totals {
  const now = totalsOf(stats);
  if (OUTCOMES.some((outcome) => now[outcome] < entry.last[outcome])) carryOver(entry);
  entry.last = now;
  const counted = noCalls();
  for (const outcome of OUTCOMES) counted[outcome] = entry.carried[outcome] + now[outcome];
  return counted;
}
