import { CircuitBreaker } from '../CircuitBreaker.js';
import { InvalidOptionError } from '../errors.js';
import { describe } from '../validation.js';
import { isGuard, toPolicy, type ExecuteOptions, type Guard, type Guarded, type Policy } from './Policy.js';
import { BulkheadPolicy } from './BulkheadPolicy.js';
import { FallbackPolicy } from './FallbackPolicy.js';
import { RetryPolicy } from './RetryPolicy.js';

/**
 * What a guard may answer in the function's place: a fallback's value, `never` for the others. A policy
 * of another kind counts through `Policy<R>`; one whose `execute` returns only `Promise<Awaited<T>>` reads
 * as `unknown` there, which means it adds nothing.
 */
export type FallbackOf<G> =
  G extends FallbackPolicy<infer R>
    ? R
    : G extends ComposedPolicy<infer R>
      ? R
      : G extends Policy<infer R>
        ? unknown extends R
          ? never
          : R
        : never;

/**
 * Policies stacked into one, outermost first: `execute` enters the first and the function runs inside
 * the last. One signal runs through every layer, so the caller's abort reaches the function, and each
 * layer hands the next the signal of its own context (a breaker's aborts at its `callTimeout`).
 */
export class ComposedPolicy<R = never> implements Policy<R> {
  /** The layers, outermost first. */
  readonly policies: readonly Guard[];
  readonly #layers: readonly Policy<unknown>[];
  /** Per layer: whether it may abort the calls inside it on its own (a breaker's `callTimeout`, say). */
  readonly #aborts: readonly boolean[];

  constructor(policies: readonly Guard[]) {
    if (policies.length === 0) {
      throw new InvalidOptionError('policies', 'compose() expects at least one policy or circuit breaker.');
    }
    policies.forEach((policy, index) => {
      if (!isGuard(policy)) {
        throw new InvalidOptionError(
          `policies[${index}]`,
          `compose() argument ${index + 1} must be a policy (an object with execute()) or a circuit breaker ` +
            `(an object with fire()); received ${describe(policy)}.`,
        );
      }
    });
    this.policies = [...policies];
    this.#layers = policies.map(toPolicy);
    this.#aborts = policies.map(mayAbort);
  }

  /** Runs `fn({ signal })` through every layer, outermost first. */
  execute<T>(fn: Guarded<T>, options?: ExecuteOptions): Promise<Awaited<T> | R> {
    return this.#enter(0, fn, options?.signal) as Promise<Awaited<T> | R>;
  }

  #enter<T>(index: number, fn: Guarded<T>, signal: AbortSignal | undefined): Promise<unknown> {
    const layer = this.#layers[index]!;
    if (index === this.#layers.length - 1) return layer.execute(fn, { signal });
    // Without a caller's signal, a layer that never aborts on its own has nothing to pass down, and
    // reading its context's signal would make an AbortController per layer and call for nothing.
    // Stryker disable next-line ConditionalExpression,BlockStatement: performance only, the signal such a layer would pass down never aborts
    if (signal === undefined && !this.#aborts[index]) {
      // Stryker disable next-line ObjectLiteral: `{ signal }` holds undefined here, as `{}` does
      return layer.execute(() => this.#enter(index + 1, fn, undefined), { signal });
    }
    return layer.execute((context) => this.#enter(index + 1, fn, context.signal), { signal });
  }
}

/** Retry, bulkhead and fallback pass their caller's signal through; a breaker aborts its own only at `callTimeout`. */
function mayAbort(guard: Guard): boolean {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: performance only, these layers never abort the signal they would pass down
  if (guard instanceof RetryPolicy || guard instanceof BulkheadPolicy || guard instanceof FallbackPolicy)
    // Stryker disable next-line BooleanLiteral: performance only, as above
    return false;
  // Stryker disable next-line ConditionalExpression: performance only, a breaker without callTimeout never aborts the signal it would pass down
  if (guard instanceof CircuitBreaker) return guard.options.callTimeout !== undefined;
  return true;
}

/**
 * Stacks policies and breakers into one policy, outermost first. The recommended order is
 * `compose(fallback(...), bulkhead(...), retry(...), breaker)`: see the README for why.
 */
export function compose<P extends readonly [Guard, ...Guard[]]>(
  ...policies: P
): ComposedPolicy<FallbackOf<P[number]>> {
  return new ComposedPolicy<FallbackOf<P[number]>>(policies);
}
