/** The `breaker` label value shared by every breaker past `maxBreakers`. */
export const OVERFLOW_LABEL = '__other__';

/**
 * Hands out `breaker` label values: a breaker's own name while fewer than `max` names hold one,
 * {@link OVERFLOW_LABEL} after that, so a registry of keyed breakers cannot grow the series without bound.
 */
export class BreakerLabels {
  readonly #max: number;
  readonly #named = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The label value for a breaker named `name`, taking a slot if one is free. */
  take(name: string): string {
    if (name === OVERFLOW_LABEL || this.#named.size >= this.#max) return OVERFLOW_LABEL;
    this.#named.add(name);
    return name;
  }

  /** Gives back the slot of a label value from {@link BreakerLabels.take}. */
  release(label: string): void {
    if (label !== OVERFLOW_LABEL) this.#named.delete(label);
  }
}
