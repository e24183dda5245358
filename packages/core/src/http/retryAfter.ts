/**
 * The largest delay a `Retry-After` carries: 2^31 seconds, the value RFC 9111 has recipients read any
 * larger delta-seconds as. It also keeps the number printing as digits, which past 1e21 it would not.
 */
const MAX_DELAY_SECONDS = 2_147_483_648;

/**
 * `Retry-After` in whole seconds for a wait in milliseconds: at most `maxMs`, rounded up, and at least 1.
 * Always a plain integer, so `String()` of it is a valid delay-seconds value.
 */
export function retryAfterSeconds(ms: number, maxMs = Number.POSITIVE_INFINITY): number {
  const capped = Math.min(ms, maxMs);
  // Stryker disable next-line EqualityOperator: exactly 1 000 ms rounds up to 1 s either way
  if (!Number.isFinite(capped) || capped <= 1_000) return 1;
  return Math.min(Math.ceil(capped / 1_000), MAX_DELAY_SECONDS);
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
