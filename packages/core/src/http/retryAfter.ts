/** `Retry-After` in whole seconds for a wait in milliseconds: rounded up, and at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Number.isFinite(ms) && ms > 1_000 ? Math.ceil(ms / 1_000) : 1;
}

/**
 * Milliseconds to wait that a `Retry-After` header asks for, given as seconds or as an HTTP date;
 * `undefined` when the header is absent or malformed. A date in the past gives 0.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now: number,
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  // An HTTP date names its weekday and GMT; Date.parse alone would accept far looser text.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
