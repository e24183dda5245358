import type { State } from './browser.js';

/** How the page orders breakers: by state (open first), name, failure rate or calls per second. */
export type SortKey = 'state' | 'name' | 'failure-rate' | 'calls';

/** What {@link arrange} needs of a breaker. */
export interface Arrangeable {
  name: string;
  state: State;
  failureRate: number;
  callsPerSecond: number;
}

/** The breakers to show, how many match, and how many there are in each state. */
export interface Arrangement<T> {
  shown: T[];
  matching: number;
  counts: [State, number][];
}

/**
 * Picks the breakers the page shows: those whose name contains `query` (ignoring case), in `sort` order,
 * at most `limit` of them; and counts every breaker by state, worst state first. It runs in the browser
 * too (sent as its source text), so it uses nothing from outside its own body.
 */
export function arrange<T extends Arrangeable>(
  breakers: Iterable<T>,
  query: string,
  sort: SortKey,
  limit: number,
): Arrangement<T> {
  const STATES: State[] = ['open', 'forced-open', 'half-open', 'disabled', 'closed'];
  const needle = query.trim().toLowerCase();
  const counts = new Map<State, number>(STATES.map((state) => [state, 0]));
  const matching: T[] = [];
  for (const breaker of breakers) {
    counts.set(breaker.state, (counts.get(breaker.state) ?? 0) + 1);
    if (needle === '' || breaker.name.toLowerCase().includes(needle)) matching.push(breaker);
  }
  const byName = (a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const rank = (state: State): number => {
    const at = STATES.indexOf(state);
    return at === -1 ? STATES.length : at;
  };
  const compare: Record<SortKey, (a: T, b: T) => number> = {
    state: (a, b) => rank(a.state) - rank(b.state) || byName(a, b),
    name: byName,
    'failure-rate': (a, b) => b.failureRate - a.failureRate || byName(a, b),
    calls: (a, b) => b.callsPerSecond - a.callsPerSecond || byName(a, b),
  };
  matching.sort(compare[sort] ?? compare.state);
  return {
    shown: matching.slice(0, Math.max(0, limit)),
    matching: matching.length,
    counts: [...counts].filter(([, n]) => n > 0),
  };
}
