/** A message longer than this is no state of ours; it is refused unread. */
const MAX_MESSAGE_BYTES = 16_384;

/**
 * The first checks on a message from the channel or a stored state: its size, that it is JSON, and
 * the breaker it names (which must be `expected`'s for a stored state read under that name). Returns
 * what to refuse it as, or the name and parsed value for the state's own checks.
 */
export function readMessage(message: string, expected?: string): { name: string; value: unknown } | string {
  if (message.length > MAX_MESSAGE_BYTES) return `a message of ${message.length} characters`;
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return 'a message that is not JSON';
  }
  const name = (value as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') return 'a message without a breaker name';
  if (expected !== undefined && name !== expected) return `a stored state of "${name}" under "${expected}"`;
  return { name, value };
}
