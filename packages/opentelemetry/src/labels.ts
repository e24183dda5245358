/** The `breaker.name` value that every breaker past `maxBreakers` shares. */
export const OVERFLOW_LABEL = '__other__';

/**
 * Hands out `breaker.name` values: a breaker's own name for the first `max` names, {@link OVERFLOW_LABEL}
 * after that. A name keeps its value for the life of the instrumentation, and a slot is never given to
 * another name: an SDK with cumulative temporality goes on exporting a series it no longer hears of, so
 * reusing slots would grow the series without bound as keyed breakers come and go.
 */
export class NameLabels {
  readonly #max: number;
  readonly #named = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  take(name: string): string {
    if (this.#named.has(name)) return name;
    if (name === OVERFLOW_LABEL || this.#named.size >= this.#max) return OVERFLOW_LABEL;
    this.#named.add(name);
    return name;
  }
}
