import { z } from 'zod';
import { TRANSITION_REASONS } from './events.js';
import type { BreakerState } from './state.js';
import type { SharedState } from './store.js';
import { whole } from './validation.js';

/** What `breaker.toJSON()` saves and the `initialState` option restores. */
export interface BreakerSnapshot {
  version: 1;
  name: string;
  state: BreakerState;
  /** Counts state changes; outcomes of calls from an older round change nothing. */
  round: number;
  /** Clock time the breaker last opened, or `null`. */
  openedAt: number | null;
  /** Clock time an open breaker lets a trial call through, or `null`. */
  openUntil: number | null;
  /** Trips since the breaker last closed; drives `timeoutMultiplier`. */
  trips: number;
}

/**
 * The highest round a snapshot may carry. Far beyond any real count of state changes, yet low
 * enough that every round after it is a different number, so a fleet can always move on.
 */
export const MAX_ROUND = 2 ** 50;

const time = z.number({ error: 'a clock time or null' }).finite({ error: 'a clock time or null' }).nullable();

const snapshotShape = {
  version: z.literal(1, { error: 'version 1' }),
  name: z.string({ error: 'a string' }),
  state: z.enum(['closed', 'open', 'half-open', 'forced-open', 'disabled'], {
    error: 'one of "closed", "open", "half-open", "forced-open", "disabled"',
  }),
  round: whole(0, MAX_ROUND),
  openedAt: time,
  openUntil: time,
  trips: whole(0, 1_000_000_000),
};

/** The `initialState` option: a snapshot returned by `breaker.toJSON()`, nothing more. */
export const snapshotSchema = z.strictObject(snapshotShape, {
  error: 'a snapshot returned by breaker.toJSON()',
});

/** A state shared by a store: a snapshot with why and where it changed; fields added later are ignored. */
const sharedStateSchema = z.object(
  {
    ...snapshotShape,
    reason: z.enum(TRANSITION_REASONS, { error: 'a transition reason' }),
    origin: z.string({ error: 'a string' }).max(1_000, { error: 'at most 1000 characters' }),
  },
  { error: 'an object' },
);

/**
 * Checks a state that came from outside the process (a store's message or stored value) as strictly
 * as `initialState`. Returns the state, or a sentence saying what is wrong with it.
 */
export function parseSharedState(value: unknown): SharedState | string {
  const parsed = sharedStateSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length === 0 ? 'the state' : `"${issue.path.map(String).join('.')}"`;
  return `${where} is not ${issue.message}`;
}
