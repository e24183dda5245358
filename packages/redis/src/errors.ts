/** Longest message a reported error keeps; the rest is cut. */
const MAX_MESSAGE = 300;

/**
 * A fresh error to report in place of one from the Redis client: the same name, a message with any
 * credentials masked, and a string `code` if it had one, and nothing else. Client errors carry the
 * command they failed on (an `AUTH` holds the password), nested errors and addresses; none of that
 * may reach a log.
 */
export function safeError(error: unknown): Error {
  const source = error instanceof Error ? error : undefined;
  const safe = new Error(mask(messageOf(error)));
  if (source !== undefined && typeof source.name === 'string' && source.name !== '') safe.name = source.name;
  const code = (source as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code.length <= 64) (safe as Error & { code?: string }).code = code;
  return safe;
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return `Redis error: ${String(error)}`;
  if (typeof error.message === 'string' && error.message !== '') return error.message;
  // Node reports a connection refused on every address tried as an AggregateError without a message.
  const nested = (error as { errors?: unknown }).errors;
  if (Array.isArray(nested) && nested.length > 0) return nested.map(messageOf).join('; ');
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `Redis error ${code}` : `Redis error (${error.name || 'unknown'})`;
}

function mask(message: string): string {
  const masked = message.replace(/\/\/[^@/\s]*@/g, '//***@');
  return masked.length > MAX_MESSAGE ? `${masked.slice(0, MAX_MESSAGE)}…` : masked;
}

/**
 * Drops repeats: while Redis is away each distinct message is reported once for the whole outage,
 * and while it is up, once a second at most.
 */
export class ErrorFilter {
  readonly #seen = new Map<string, number>();

  /** Whether `message` should be reported now. */
  admit(message: string, up: boolean, now = Date.now()): boolean {
    const last = this.#seen.get(message);
    if (last !== undefined && (!up || now - last < 1_000)) return false;
    if (this.#seen.size >= 100) this.#seen.clear();
    this.#seen.set(message, now);
    return true;
  }

  /** The connection is back: the next outage reports its errors afresh. */
  reset(): void {
    this.#seen.clear();
  }
}
