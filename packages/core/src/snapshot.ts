import type { BreakerState } from './state.js';

/** What `breaker.toJSON()` saves and the `initialState` option restores. */
export interface BreakerSnapshot {
  version: 1;
  name: string;
  state: BreakerState;
  /** Counts state changes; outcomes of calls from an older round change nothing. */
  round: number;
  /** Clock time the breaker last opened, or `null`. */
  openedAt: number | null;
  /** Clock time an open breaker lets a trial call through, or `null`. */
  openUntil: number | null;
  /** Trips since the last close; drives `timeoutMultiplier`. */
  trips: number;
}
