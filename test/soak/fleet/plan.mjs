// The shape of a fleet soak: the routes and their breakers, the traffic levels, the deadlines the
// invariants hold the fleet to, and the schedule of a run (traffic segments, partner faults, Redis faults
// and checkpoints) built from a duration.

/** Per-call deadline of every breaker; invariant 3 allows this plus {@link LATENCY_SLACK_MS}. */
export const CALL_TIMEOUT_MS = 500;
export const LATENCY_SLACK_MS = 100;
/** Invariant 1: replicas must agree on a breaker's state within this long of a change. */
export const AGREEMENT_LIMIT_MS = 1_000;
/** Invariant 2 allows a change this long to reach every replica, as invariant 1 does. */
export const PROPAGATION_ALLOWANCE_MS = AGREEMENT_LIMIT_MS;
export const ROUTES = [
  { path: '/a', name: 'partner-a', options: { failureThreshold: 3, timeout: 1_500 } },
  { path: '/b', name: 'partner-b', options: { failureThreshold: 2, timeout: 1_000 } },
  {
    path: '/c',
    name: 'partner-c',
    keys: ['acme', 'globex'],
    options: { failureThreshold: 3, timeout: 2_000 },
  },
];
/** Requests per second per route. */
export const LEVELS = { low: 0.5, medium: 20, high: 200, peak: 300 };

export const BREAKERS = ROUTES.flatMap((route) =>
  (route.keys ? route.keys.map((key) => `${route.name}:${key}`) : [route.name]).map((name) => ({
    name,
    openMs: route.options.timeout,
  })),
);
export const POLL_MS = 150;
const WARMUP_MS = 3_000;
/** Long enough for the replicas' pooled partner sockets (1 s keep-alive) to close before a checkpoint. */
const QUIET_MS = 2_500;
const END_QUIET_MS = 3_000;
const CHECKPOINT_OFFSETS_MS = [1_800, 2_050, 2_300];
/** The last part of a fault, and the observation after the heal, run at the heal's traffic level. */
const HEAL_LEAD_MS = 1_500;
export const CLIENT_LIMIT_MS = 5_000;
export const MAX_IN_FLIGHT = 3_000;
export const REPLICA_SHUTDOWN_MS = 4_000;
/** A replica whose store is not connected this long after Redis is back no longer counts as an outage. */
export const RECONNECT_ALLOWANCE_MS = 5_000;

const TEMPLATES = [
  { fault: 'error', trip: 'high', heal: 'high', lead: 1_000, faultMs: 3_000, observe: 3_500 },
  { fault: 'hang', trip: 'medium', heal: 'low', lead: 1_500, faultMs: 3_500, observe: 8_500 },
  { fault: 'error', trip: 'ramp', heal: 'medium', lead: 1_500, faultMs: 3_000, observe: 4_000 },
  { fault: 'hang', trip: 'high', heal: 'low', lead: 1_000, faultMs: 4_000, observe: 8_500 },
  { calm: true, ms: 15_000 },
  { fault: 'error', trip: 'medium', heal: 'peak', lead: 1_500, faultMs: 3_000, observe: 3_500 },
  { fault: 'hang', trip: 'peak', heal: 'medium', lead: 1_000, faultMs: 3_000, observe: 4_000 },
  { calm: true, ms: 20_000 },
];
const REDIS_FAULTS = ['kill-before', 'pubsub-before', 'kill-during'];
const REDIS_FAULT_NAMES = {
  'kill-before': 'Redis killed and restarted empty before the fault',
  'pubsub-before': 'pub/sub clients killed before the fault',
  'kill-during': 'Redis killed and restarted empty during the fault',
};

function cycleShape(template, redisFault) {
  if (template.calm) return { ...template, length: template.ms };
  let { lead, faultMs } = template;
  if (redisFault === 'kill-before') lead += 3_000;
  if (redisFault === 'pubsub-before') lead += 1_500;
  if (redisFault === 'kill-during') faultMs = Math.max(faultMs, 4_000);
  return { ...template, lead, faultMs, redisFault, length: lead + faultMs + template.observe };
}

// Each Redis fault goes with the same kind of cycle at every duration (a restart during a hang healed at
// low traffic, say), so a long run covers everything the short one does.
const REDIS_FAULT_TEMPLATE = { 'kill-before': 1, 'pubsub-before': 2, 'kill-during': 3 };

function assignRedisFaults(count) {
  const assigned = new Map();
  let from = 1;
  for (const [i, fault] of REDIS_FAULTS.entries()) {
    const target = Math.round((count * (i + 1)) / 4);
    let index = -1;
    for (let k = from; k < count; k++) {
      if (k % TEMPLATES.length !== REDIS_FAULT_TEMPLATE[fault]) continue;
      if (index === -1 || Math.abs(k - target) < Math.abs(index - target)) index = k;
    }
    if (index === -1) return null;
    assigned.set(index, fault);
    from = index + 1;
  }
  return assigned;
}

function cyclesFor(count) {
  const assigned = assignRedisFaults(count);
  if (assigned === null) return null;
  return Array.from({ length: count }, (_, i) =>
    cycleShape(TEMPLATES[i % TEMPLATES.length], assigned.get(i)),
  );
}

const FIXED_MS = WARMUP_MS + QUIET_MS + END_QUIET_MS + 1_000;
/** The shortest run that fits every fault: four cycles, about a minute. */
export const SHORT_DURATION_S = Math.ceil(
  (FIXED_MS + cyclesFor(4).reduce((sum, cycle) => sum + cycle.length, 0)) / 1_000,
);

/**
 * The schedule of a run of `durationS` seconds: traffic segments, actions (partner modes, Redis faults,
 * checkpoints) and phases, every time in ms from the start.
 */
export function buildPlan(durationS) {
  if (!Number.isFinite(durationS))
    throw new RangeError(`the duration must be a number of seconds; got ${durationS}`);
  const total = Math.round(durationS * 1_000);
  const mainStart = WARMUP_MS + QUIET_MS;
  const room = total - mainStart - END_QUIET_MS - 1_000;
  let cycles = null;
  for (let count = 4; count < 100_000; count++) {
    const candidate = cyclesFor(count);
    if (candidate === null) continue;
    if (candidate.reduce((sum, cycle) => sum + cycle.length, 0) > room) break;
    cycles = candidate;
  }
  if (cycles === null) throw new RangeError(`the soak needs a duration of at least ${SHORT_DURATION_S} s`);

  const segments = [];
  const actions = [];
  const phases = [];
  const constant = (from, to, level) => segments.push({ from, to, start: level, end: level });
  const ramp = (from, to, start, end) => segments.push({ from, to, start, end });

  constant(0, WARMUP_MS, LEVELS.medium);
  phases.push({ name: 'warm-up', from: 0, to: WARMUP_MS });
  constant(WARMUP_MS, mainStart, 0);
  phases.push({ name: 'quiet, early checkpoint', from: WARMUP_MS, to: mainStart, quiet: true });
  for (const offset of CHECKPOINT_OFFSETS_MS) {
    actions.push({ at: WARMUP_MS + offset, type: 'checkpoint', checkpoint: 'early' });
  }

  let at = mainStart;
  for (const [index, cycle] of cycles.entries()) {
    const end = at + cycle.length;
    if (cycle.calm) {
      const third = cycle.length / 3;
      ramp(at, at + third, LEVELS.low, LEVELS.peak);
      constant(at + third, at + 2 * third, LEVELS.peak);
      ramp(at + 2 * third, end, LEVELS.peak, LEVELS.low);
      phases.push({
        name: `cycle ${index + 1}: no fault, low → peak → low`,
        from: at,
        to: end,
        cycle: index,
      });
      at = end;
      continue;
    }
    const faultAt = at + cycle.lead;
    const healAt = faultAt + cycle.faultMs;
    const tripTo = healAt - HEAL_LEAD_MS;
    if (cycle.trip === 'ramp') ramp(at, tripTo, 5, LEVELS.peak);
    else constant(at, tripTo, LEVELS[cycle.trip]);
    constant(tripTo, end, LEVELS[cycle.heal]);
    actions.push({ at: faultAt, type: 'partner', mode: cycle.fault, cycle: index });
    actions.push({ at: healAt, type: 'partner', mode: 'up', cycle: index, heal: true });
    if (cycle.redisFault === 'kill-before') {
      actions.push({ at, type: 'redis-kill', cycle: index });
      actions.push({ at: at + 1_000, type: 'redis-restart', cycle: index });
      actions.push({ at: at + 2_500, type: 'subscribers', cycle: index, after: 'restart' });
    } else if (cycle.redisFault === 'pubsub-before') {
      actions.push({ at, type: 'pubsub-kill', cycle: index });
      actions.push({ at: at + 1_400, type: 'subscribers', cycle: index, after: 'CLIENT KILL' });
    } else if (cycle.redisFault === 'kill-during') {
      actions.push({ at: faultAt + 1_000, type: 'redis-kill', cycle: index });
      actions.push({ at: faultAt + 2_500, type: 'redis-restart', cycle: index });
      actions.push({ at: faultAt + 3_900, type: 'subscribers', cycle: index, after: 'restart' });
    }
    const trip = cycle.trip === 'ramp' ? 'ramp 5/s → peak' : cycle.trip;
    const extra = cycle.redisFault ? `; ${REDIS_FAULT_NAMES[cycle.redisFault]}` : '';
    phases.push({
      name: `cycle ${index + 1}: partner ${cycle.fault === 'error' ? '500s' : 'hangs'}, trip at ${trip}, heal at ${cycle.heal}${extra}`,
      from: at,
      to: end,
      cycle: index,
      fault: cycle.fault,
      faultAt,
      healAt,
      healLevel: cycle.heal,
    });
    at = end;
  }
  const endQuiet = total - END_QUIET_MS;
  constant(at, endQuiet, LEVELS.medium);
  phases.push({ name: 'tail, partner up', from: at, to: endQuiet });
  constant(endQuiet, total, 0);
  phases.push({ name: 'quiet, end checkpoint', from: endQuiet, to: total, quiet: true });
  for (const offset of CHECKPOINT_OFFSETS_MS) {
    actions.push({ at: endQuiet + offset, type: 'checkpoint', checkpoint: 'end' });
  }
  actions.push({ at: total, type: 'finish' });
  actions.sort((a, b) => a.at - b.at);
  return { total, segments, actions, phases, cycles };
}

export function rateAt(plan, t) {
  for (const segment of plan.segments) {
    if (t >= segment.from && t < segment.to) {
      const share = (t - segment.from) / (segment.to - segment.from);
      return segment.start + (segment.end - segment.start) * share;
    }
  }
  return 0;
}

export const expectedRequests = (plan) =>
  plan.segments.reduce(
    (sum, s) => sum + (((s.start + s.end) / 2) * (s.to - s.from) * ROUTES.length) / 1_000,
    0,
  );
