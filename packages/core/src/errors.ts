const BRAND = Symbol.for('@breaker/core/error');

type Branded = { [BRAND]?: true; code?: unknown };

/** The state a breaker was in when it turned a call away. */
export type RejectingState = 'open' | 'half-open' | 'forced-open' | 'recovering';

/**
 * Base of every error Breaker throws. `instanceof` checks a brand, not the prototype,
 * so it holds even when two copies of the package are loaded.
 */
export class BreakerError extends Error {
  /** The stable code of this error class; `undefined` on the base class. */
  static readonly code: string | undefined = undefined;
  /** A stable, machine-readable code, such as `BREAKER_OPEN`. */
  readonly code: string;
  declare readonly [BRAND]: true;

  static {
    // On the prototype, not each instance: making an error stays as cheap as a plain Error.
    Object.defineProperty(this.prototype, BRAND, { value: true });
  }

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || (value as Branded)[BRAND] !== true) {
      return false;
    }
    const code = (this as { code?: string }).code;
    return code === undefined || (value as Branded).code === code;
  }
}

// The codes are constants of the module, so that no class names itself in its body (the bundler would rename it).
const OPEN = 'BREAKER_OPEN';
const TIMEOUT = 'BREAKER_TIMEOUT';
const INVALID_OPTION = 'BREAKER_INVALID_OPTION';

/** Thrown, without calling the guarded function, while a breaker is open or has no free trial permit. */
export class BreakerOpenError extends BreakerError {
  static override readonly code = OPEN;
  override readonly name = 'BreakerOpenError';
  /** Name of the breaker that rejected the call. */
  readonly breaker: string;
  /**
   * Milliseconds until the breaker lets a trial call through; 0 when only the trial permits are busy.
   * A forced-open breaker has no such time and gives its `timeout` as a hint for clients.
   */
  readonly retryAfterMs: number;
  /** The state that rejected the call. */
  readonly state: RejectingState;

  constructor(breaker: string, state: RejectingState, retryAfterMs: number) {
    super(OPEN, describeRejection(breaker, state, retryAfterMs));
    this.breaker = breaker;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A rejection made on the fail-fast path. Its stack is left out: it would only show the breaker's
 * own frames, and capturing it costs several times more than the rest of the rejection.
 */
export function rejection(breaker: string, state: RejectingState, retryAfterMs: number): BreakerOpenError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new BreakerOpenError(breaker, state, retryAfterMs);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function describeRejection(breaker: string, state: RejectingState, retryAfterMs: number): string {
  if (state === 'half-open') {
    return `Circuit breaker "${breaker}" is half-open and its trial calls are all in use`;
  }
  if (state === 'forced-open') return `Circuit breaker "${breaker}" is forced open until it is reset`;
  if (state === 'recovering') {
    return `Circuit breaker "${breaker}" is recovering from being open and admits only part of its calls`;
  }
  return `Circuit breaker "${breaker}" is open; retry in ${Math.ceil(retryAfterMs / 1000)} s`;
}

/** Rejects a call that did not settle within `callTimeout`; the call's signal is aborted with it. */
export class CallTimeoutError extends BreakerError {
  static override readonly code = TIMEOUT;
  override readonly name = 'CallTimeoutError';
  /** Name of the breaker whose deadline passed. */
  readonly breaker: string;
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(breaker: string, timeoutMs: number) {
    super(TIMEOUT, `Call through circuit breaker "${breaker}" timed out after ${timeoutMs} ms`);
    this.breaker = breaker;
    this.timeoutMs = timeoutMs;
  }
}

/** Thrown at construction when an option is missing its mark; it is a `TypeError`. */
export class InvalidOptionError extends TypeError {
  static readonly code = INVALID_OPTION;
  readonly code = INVALID_OPTION;
  override readonly name = 'InvalidOptionError';
  /** Dotted path of the offending option, such as `window.size`. */
  readonly option: string;
  declare readonly [BRAND]: true;

  static {
    Object.defineProperty(this.prototype, BRAND, { value: true });
  }

  constructor(option: string, message: string) {
    super(message);
    this.option = option;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Branded)[BRAND] === true &&
      (value as Branded).code === INVALID_OPTION
    );
  }
}
