// The shape of a chaos run: the gateways and their route kinds, the breakers' options, the partner's
// faults, the client's hang-ups, the deadlines the invariants hold the gateways to, and the schedule of a
// run (warm-up, quiet checkpoints, fault phases, tail, fuzz) built from a duration and a seed.

/** Per-call deadline of every breaker; invariant 2 allows this plus {@link LATENCY_SLACK_MS}. */
export const CALL_TIMEOUT_MS = 500;
export const LATENCY_SLACK_MS = 100;
/** The outbound call behind the middleware gives up first, so its own 502 usually beats the 504. */
export const OUTBOUND_CALL_TIMEOUT_MS = 400;
export const BREAKER = { failureThreshold: 5, timeout: 1_000 };

/** The partner misbehaves in these ways; `up` is a healthy partner. */
export const FAULTS = [
  'refused',
  'reset-before',
  'reset-during',
  'hang',
  'slow-body',
  'burst-5xx',
  'invalid-status',
  'huge-headers',
  'early-close',
];
/**
 * Faults after which the partner may have sent a whole, valid head: a streamed answer may be cut short.
 * `dropped` is a request still being answered when the partner closed its port and every connection.
 */
export const BODY_FAULTS = new Set(['reset-during', 'early-close', 'dropped']);
/** A slow body: this many chunks, one every this many ms (longer in all than the deadline). */
export const SLOW_BODY = { chunks: 6, everyMs: 150 };
/** A hung partner request that nobody hangs up on is dropped after this long. */
export const PARTNER_HANG_LIMIT_MS = 15_000;

export const GATEWAYS = ['express', 'koa'];
export const KINDS = ['api', 'proxy'];
export const TARGETS = GATEWAYS.flatMap((gateway) => KINDS.map((kind) => ({ gateway, kind })));
export const targetName = ({ gateway, kind }) => `${gateway} ${kind}`;

/** Requests a second per target (gateway and route kind) while traffic flows. */
export const RATE_PER_TARGET = 30;
export const MAX_IN_FLIGHT = 800;
/** Share of requests whose client hangs up at a random moment within {@link HANGUP_WITHIN_MS}. */
export const HANGUP_SHARE = 0.12;
export const HANGUP_WITHIN_MS = 1_000;
export const HANGUP_KINDS = ['close', 'reset', 'half-close', 'partial-request'];
/** A request without a complete answer this long after it left is hung. */
export const ANSWER_LIMIT_MS = 5_000;
/** How long a client waits, after a whole answer, for the gateway to close (Connection: close). */
export const CLOSE_WAIT_MS = 1_000;

export const FUZZ_CASE_LIMIT_MS = 3_000;
export const FUZZ_CONCURRENCY = 8;

export const WARMUP_FAULT_MS = 500;
export const WARMUP_HEAL_MS = 1_500;
export const QUIET_MS = 4_000;
export const CHECKPOINT_OFFSETS_MS = [2_000, 2_800, 3_600];
export const TAIL_MS = 2_000;
/** The shortest run: warm-up, both quiet checkpoints and one round of every fault. */
export const SHORT_DURATION_S = 36;
export const SHORT_FUZZ_CASES = 2_000;
export const LONG_FUZZ_CASES = 10_000;
export const GATEWAY_SHUTDOWN_MS = 4_000;

/** A small seeded PRNG (mulberry32): the same seed gives the same run plan and the same fuzz cases. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const pick = (random, list) => list[Math.floor(random() * list.length)];

function shuffled(random, list) {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The run's stages, in order, each with its partner phases ({ at, mode, ratio }, `at` from the stage's
 * start) and whether traffic flows. `mixed` gives each request a fault of its own; `ratio` is the share of
 * requests that get the phase's fault (a closed port refuses every connection).
 */
export function buildPlan(durationS, seed) {
  if (!Number.isFinite(durationS) || durationS < SHORT_DURATION_S) {
    throw new RangeError(`the duration must be at least ${SHORT_DURATION_S} s; got ${durationS}`);
  }
  const random = prng(seed ^ 0x5eed);
  const total = Math.round(durationS * 1_000);
  const warmupPhases = FAULTS.map((mode, i) => ({ at: i * WARMUP_FAULT_MS, mode, ratio: 0.6 }));
  warmupPhases.push({ at: FAULTS.length * WARMUP_FAULT_MS, mode: 'up', ratio: 0 });
  const warmupMs = FAULTS.length * WARMUP_FAULT_MS + WARMUP_HEAL_MS;

  const mainMs = total - warmupMs - 2 * QUIET_MS - TAIL_MS;
  const phaseMs = durationS <= 60 ? 1_600 : 3_000;
  const count = Math.max(FAULTS.length + 2, Math.floor(mainMs / phaseMs));
  const step = mainMs / count;
  const phases = [];
  while (phases.length < count) {
    for (const mode of shuffled(random, [...FAULTS, 'mixed', 'up'])) {
      if (phases.length === count) break;
      const ratio = mode === 'up' ? 0 : mode === 'refused' ? 1 : pick(random, [1, 0.6, 0.3]);
      phases.push({ at: Math.round(phases.length * step), mode, ratio });
    }
  }
  return {
    total,
    seed,
    stages: [
      { name: 'warm-up: every fault once', ms: warmupMs, traffic: true, phases: warmupPhases },
      { name: 'quiet, early checkpoint', ms: QUIET_MS, traffic: false, checkpoint: 'early' },
      { name: `faults, changing every ${(step / 1_000).toFixed(1)} s`, ms: mainMs, traffic: true, phases },
      { name: 'tail, partner up', ms: TAIL_MS, traffic: true, phases: [{ at: 0, mode: 'up', ratio: 0 }] },
      { name: 'fuzz against both proxies', fuzz: true },
      { name: 'quiet, end checkpoint', ms: QUIET_MS, traffic: false, checkpoint: 'end' },
    ],
  };
}

export const expectedRequests = (plan) =>
  plan.stages.reduce(
    (sum, stage) => sum + (stage.traffic ? (stage.ms / 1_000) * RATE_PER_TARGET * TARGETS.length : 0),
    0,
  );
