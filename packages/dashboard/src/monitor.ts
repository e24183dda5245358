import type { BreakerRegistry, BreakerState, CircuitBreaker, Clock, TransitionReason } from '@breaker/core';

/** Seconds of call history kept per breaker, for the sparkline. */
export const HISTORY_SECONDS = 120;
/** State changes kept per breaker. */
export const TRANSITIONS_KEPT = 20;

/** One state change, as the page shows it. */
export interface TransitionRecord {
  from: BreakerState;
  to: BreakerState;
  reason: TransitionReason;
  /** Clock time of the change, in milliseconds since the epoch. */
  at: number;
}

/** Calls that ended in one second: `[ok, failed, rejected]` (ok counts successes and ignored calls). */
export type HistoryPoint = [ok: number, failed: number, rejected: number];

/** What the page shows of one breaker. */
export interface BreakerView {
  name: string;
  state: BreakerState;
  /** Failure percentage, as `stats().failureRate`, to one decimal. */
  failureRate: number;
  /** Calls that ended in the last whole second, rejected ones included. */
  callsPerSecond: number;
  /** Milliseconds until an open breaker lets a trial call through; `null` unless open. */
  halfOpenInMs: number | null;
  /** Trips since the last close. */
  trips: number;
  /** The latest state changes, oldest first. */
  transitions: TransitionRecord[];
}

/** A breaker's view without its transitions, as `update` events carry it (transitions come in `transition` events). */
export type BreakerSummary = Omit<BreakerView, 'transitions'>;

/** One breaker in the stream's snapshot: its view and, when it had calls in the window, its history. */
export type SnapshotEntry = BreakerView & { history?: HistoryPoint[] };

const OK = 0;
const FAILED = 1;
const REJECTED = 2;

/** One breaker being watched: its listeners, its recent transitions and its per-second history. */
export class Watched {
  readonly transitions: TransitionRecord[] = [];
  /** `HISTORY_SECONDS` points of three counts, by second modulo `HISTORY_SECONDS`; made on the first call. */
  history: Uint32Array | undefined;
  /** The latest second `history` has a slot for. */
  second = 0;
  unsubscribe: (() => void)[] = [];
  /** The summary last sent in an update, as a key, to send only what changed. */
  sent = '';

  constructor(readonly breaker: CircuitBreaker) {}

  count(kind: number, second: number): void {
    const history = (this.history ??= new Uint32Array(HISTORY_SECONDS * 3));
    if (second > this.second) this.#roll(second);
    else if (second <= this.second - HISTORY_SECONDS) return;
    history[(second % HISTORY_SECONDS) * 3 + kind]!++;
  }

  point(second: number): HistoryPoint {
    const history = this.history;
    if (history === undefined || second > this.second || second <= this.second - HISTORY_SECONDS) {
      return [0, 0, 0];
    }
    const at = (second % HISTORY_SECONDS) * 3;
    return [history[at]!, history[at + FAILED]!, history[at + REJECTED]!];
  }

  /** The points of the `HISTORY_SECONDS` seconds up to `second`, oldest first; `undefined` when none had a call. */
  window(second: number): HistoryPoint[] | undefined {
    if (this.history === undefined || this.second <= second - HISTORY_SECONDS) return undefined;
    const points: HistoryPoint[] = [];
    let calls = 0;
    for (let s = second - HISTORY_SECONDS + 1; s <= second; s++) {
      const point = this.point(s);
      calls += point[OK] + point[FAILED] + point[REJECTED];
      points.push(point);
    }
    return calls === 0 ? undefined : points;
  }

  #roll(second: number): void {
    const history = this.history!;
    const from = Math.max(this.second + 1, second - HISTORY_SECONDS + 1);
    for (let s = from; s <= second; s++)
      history.fill(0, (s % HISTORY_SECONDS) * 3, (s % HISTORY_SECONDS) * 3 + 3);
    this.second = second;
  }
}

/** What the monitor tells its listener. */
export interface MonitorListener {
  /** A breaker changed state (sent once per breaker per microtask, after the change settles). */
  transition(view: BreakerView): void;
  /** A breaker left the registry. */
  remove(name: string): void;
}

/**
 * Watches every breaker of a registry, those there now and those added later: counts calls per second
 * and keeps the latest state changes, so the page has history to show as soon as it opens.
 */
export class Monitor {
  readonly #registry: BreakerRegistry;
  readonly #clock: Clock;
  readonly #listener: MonitorListener;
  readonly #watched = new Map<CircuitBreaker, Watched>();
  readonly #offRegistry: (() => void)[];
  #pending: Set<Watched> | undefined;

  constructor(registry: BreakerRegistry, clock: Clock, listener: MonitorListener) {
    this.#registry = registry;
    this.#clock = clock;
    this.#listener = listener;
    // No client has seen these yet: each gets them in its snapshot, so updates need only their changes.
    // A breaker added later is new to every client, and goes into the next update.
    for (const breaker of registry) {
      const watched = this.#watch(breaker);
      watched.sent = key(summary(watched, this.second() - 1));
    }
    this.#offRegistry = [
      registry.on('add', ({ breaker }) => this.#watch(breaker)),
      registry.on('evict', ({ breaker }) => this.#unwatch(breaker)),
    ];
  }

  /** The current (unfinished) second of the monitor's clock. */
  second(): number {
    return Math.floor(this.#clock.now() / 1_000);
  }

  /** Every breaker's view with its history up to `second` (a whole second past), oldest point first. */
  snapshot(second: number): (BreakerView & { history: HistoryPoint[] })[] {
    this.#sync();
    return [...this.#watched.values()].map((watched) => {
      const history =
        watched.window(second) ?? Array.from({ length: HISTORY_SECONDS }, (): HistoryPoint => [0, 0, 0]);
      return { ...view(watched, second), history };
    });
  }

  /** Every breaker watched now, those not closed first: the order in which the stream's snapshot pages list them. */
  roster(): Watched[] {
    this.#sync();
    const first: Watched[] = [];
    const closed: Watched[] = [];
    for (const watched of this.#watched.values()) {
      (watched.breaker.state === 'closed' ? closed : first).push(watched);
    }
    return first.concat(closed);
  }

  /** The snapshot entry of a breaker of the roster, up to `second`; `undefined` once it has left the registry. */
  entry(watched: Watched, second: number): SnapshotEntry | undefined {
    const { breaker } = watched;
    if (this.#watched.get(breaker) !== watched || this.#registry.peek(breaker.name) !== breaker)
      return undefined;
    const entry: SnapshotEntry = view(watched, second);
    const history = watched.window(second);
    if (history !== undefined) entry.history = history;
    return entry;
  }

  /**
   * The summaries that changed since the last call or had calls in `second`, each with that second's point;
   * and the names of breakers that left without an event.
   */
  changes(second: number): (BreakerSummary & { point: HistoryPoint })[] {
    this.#sync();
    const changed: (BreakerSummary & { point: HistoryPoint })[] = [];
    for (const watched of this.#watched.values()) {
      const current = summary(watched, second);
      const sent = key(current);
      const point = watched.point(second);
      if (sent === watched.sent && point[OK] + point[FAILED] + point[REJECTED] === 0) continue;
      watched.sent = sent;
      changed.push({ ...current, point });
    }
    return changed;
  }

  /** The view of the breaker named `name`, if the registry holds it. */
  viewOf(name: string): BreakerView | undefined {
    const breaker = this.#registry.peek(name);
    const watched = breaker === undefined ? undefined : this.#watched.get(breaker);
    return watched === undefined ? undefined : view(watched, this.second() - 1);
  }

  /** Stops watching: removes every listener from the registry and its breakers. */
  close(): void {
    for (const off of this.#offRegistry) off();
    for (const breaker of [...this.#watched.keys()]) this.#unwatch(breaker, false);
    this.#pending = undefined;
  }

  #watch(breaker: CircuitBreaker): Watched {
    const known = this.#watched.get(breaker);
    if (known !== undefined) return known;
    const watched = new Watched(breaker);
    const count = (kind: number) => (): void => watched.count(kind, this.second());
    watched.unsubscribe = [
      breaker.on('success', count(OK)),
      breaker.on('ignored', count(OK)),
      breaker.on('failure', count(FAILED)),
      breaker.on('reject', count(REJECTED)),
      breaker.on('state-change', ({ from, to, reason, at }) => {
        const transitions = watched.transitions;
        transitions.push({ from, to, reason, at });
        if (transitions.length > TRANSITIONS_KEPT) transitions.shift();
        this.#schedule(watched);
      }),
    ];
    this.#watched.set(breaker, watched);
    return watched;
  }

  #unwatch(breaker: CircuitBreaker, announce = true): void {
    const watched = this.#watched.get(breaker);
    if (watched === undefined) return;
    this.#watched.delete(breaker);
    this.#pending?.delete(watched);
    for (const off of watched.unsubscribe) off();
    if (announce) this.#listener.remove(breaker.name);
  }

  // `delete()` and `dispose()` of the registry emit no event: catch up whenever the views are read.
  #sync(): void {
    for (const breaker of this.#watched.keys()) {
      if (this.#registry.peek(breaker.name) !== breaker) this.#unwatch(breaker);
    }
  }

  // Views are read after the change has settled, never from inside the breaker's own transition.
  #schedule(watched: Watched): void {
    if (this.#pending !== undefined) {
      this.#pending.add(watched);
      return;
    }
    const pending = (this.#pending = new Set([watched]));
    queueMicrotask(() => {
      if (this.#pending !== pending) return;
      this.#pending = undefined;
      for (const each of pending) {
        if (this.#watched.get(each.breaker) === each)
          this.#listener.transition(view(each, this.second() - 1));
      }
    });
  }
}

/** A breaker's view; calls per second are those of `second`, the last whole second. */
function view(watched: Watched, second: number): BreakerView {
  return { ...summary(watched, second), transitions: [...watched.transitions] };
}

/** What an update compares to tell whether a breaker changed. */
function key(summary: BreakerSummary): string {
  return `${summary.state} ${summary.failureRate} ${summary.callsPerSecond} ${summary.halfOpenInMs} ${summary.trips}`;
}

/** A breaker's view without its transitions. */
function summary(watched: Watched, second: number): BreakerSummary {
  const stats = watched.breaker.stats();
  const point = watched.point(second);
  return {
    name: watched.breaker.name,
    state: stats.state,
    failureRate: Math.round(stats.failureRate * 10) / 10,
    callsPerSecond: point[OK] + point[FAILED] + point[REJECTED],
    halfOpenInMs: stats.state === 'open' ? stats.retryAfterMs : null,
    trips: stats.trips,
  };
}
