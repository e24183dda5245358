/** Checks that metrics collectors (`@breaker/prometheus`, `@breaker/opentelemetry`) share. */
import { InvalidOptionError } from '../errors.js';
import { describe } from '../validation.js';

/** What a collector's `maxBreakers` and `buckets` options allow, for their error messages. */
export const MAX_BREAKERS_ALLOWED = 'a whole number of at least 1';
export const BUCKETS_ALLOWED = 'a non-empty array of increasing positive numbers of seconds';

/** Whether `value` is a valid `maxBreakers`: a whole number of at least 1. */
export function isMaxBreakers(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1;
}

/** Whether `value` is a valid list of histogram bucket bounds: increasing positive finite seconds. */
export function isBucketBounds(value: unknown): value is readonly number[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (bound: unknown, i) =>
        // Stryker disable next-line ConditionalExpression: Number.isFinite already turns down anything but a number
        typeof bound === 'number' && Number.isFinite(bound) && bound > 0 && (i === 0 || bound > value[i - 1]),
    )
  );
}

/**
 * Checks that `options` is an object (or absent) and has no key outside `known`, naming the option
 * `hints` says was probably meant.
 */
export function checkOptionKeys<T extends object>(
  context: string,
  options: T | undefined,
  known: readonly string[],
  hints: Record<string, string>,
): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'options',
      `Invalid ${context} options: expected an object; received ${describe(options)}.`,
    );
  }
  const unknown = Object.keys(options).find((key) => !known.includes(key));
  if (unknown === undefined) return;
  const hint = hints[unknown];
  throw new InvalidOptionError(
    unknown,
    `Unknown ${context} option "${unknown}"${hint === undefined ? '' : `; did you mean "${hint}"?`}` +
      ` Known options: ${known.join(', ')}.`,
  );
}

/** An {@link InvalidOptionError} naming the option, what is allowed and what was received. */
export function invalidOption(
  context: string,
  option: string,
  allowed: string,
  received: unknown,
): InvalidOptionError {
  const shown = Array.isArray(received) ? JSON.stringify(received).slice(0, 60) : describe(received);
  return new InvalidOptionError(
    option,
    `Invalid ${context} option "${option}": expected ${allowed}; received ${shown}.`,
  );
}
