import { z } from 'zod';
import type { Clock } from './clock.js';
import { InvalidOptionError } from './errors.js';

/** A whole number of at least `min` (and at most `max`). */
export const whole = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const allowed =
    max === Number.MAX_SAFE_INTEGER
      ? `a whole number of at least ${min}`
      : `a whole number from ${min} to ${max}`;
  return z
    .number({ error: allowed })
    .int({ error: allowed })
    .min(min, { error: allowed })
    .max(max, { error: allowed });
};

/** A finite number of milliseconds of at least `min`. */
export const millis = (min: number) => {
  const allowed = `a finite number of milliseconds of at least ${min}`;
  return z.number({ error: allowed }).min(min, { error: allowed }).finite({ error: allowed });
};

/** A finite number of at least 0. */
export const nonNegative = (what = 'a finite number of at least 0') =>
  z.number({ error: what }).min(0, { error: what }).finite({ error: what });

/** A function, described as `what` in messages. */
export const fn = <F extends (...args: never[]) => unknown>(what: string) =>
  z.custom<F>((value) => typeof value === 'function', { error: what });

/** A {@link Clock}. */
export const clock = z.custom<Clock>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Clock).now === 'function' &&
    typeof (value as Clock).setTimeout === 'function' &&
    typeof (value as Clock).clearTimeout === 'function',
  { error: 'an object with now(), setTimeout() and clearTimeout()' },
);

/**
 * Checks a policy's options once, in its factory; throws {@link InvalidOptionError} naming the option,
 * what is allowed and what was received. `hints` maps other libraries' names to ours.
 */
export function parseOptions<S extends z.ZodObject>(
  schema: S,
  options: unknown,
  context: string,
  hints: Readonly<Record<string, string>> = {},
  extraKeys: readonly string[] = [],
): z.infer<S> {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new InvalidOptionError(
      'options',
      `${context} options must be an object; received ${describe(options)}.`,
    );
  }
  const parsed = schema.safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  // An unknown key first: it is often the intended name of an option reported missing.
  const issues = parsed.error.issues;
  const issue = issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? issues[0];
  const path = issue?.path.map(String) ?? [];
  if (issue?.code === 'unrecognized_keys') {
    const option = [...path, issue.keys[0] ?? ''].join('.');
    const known = path.length === 0 ? [...new Set([...Object.keys(schema.shape), ...extraKeys])] : [];
    throw unknownOption(context, option, hints[option] ?? closest(option, known), known);
  }
  const option = path.join('.') || 'options';
  throw optionError(context, option, issue?.message ?? 'a valid value', valueAt(options, path));
}

/** The error for an option whose value is not allowed. */
export function optionError(context: string, option: string, allowed: string, received: unknown) {
  return new InvalidOptionError(
    option,
    `Invalid ${context} option "${option}": expected ${allowed}; received ${describe(received)}.`,
  );
}

function unknownOption(context: string, option: string, hint: string | undefined, known: string[]) {
  const suggestion = hint === undefined ? '' : ` Did you mean ${hint}?`;
  const list =
    known.length === 0 ? 'Check the option`s documentation.' : `Known options: ${known.join(', ')}.`;
  return new InvalidOptionError(option, `Unknown ${context} option "${option}".${suggestion} ${list}`);
}

/** The known option within two edits of a misspelt one. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best === undefined ? undefined : `\`${best}\``;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A short, safe rendering of a received value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
