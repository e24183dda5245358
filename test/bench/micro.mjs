// Per-call cost of a breaker, in one process, against the least any breaker must do.
//
// Three scenarios: (a) closed, the call succeeds; (b) closed, the call fails but never trips the
// breaker; (c) open, the call is turned away. Each subject runs its own loop of INNER awaited calls,
// measured by mitata; the subjects of a scenario take turns (A B C D E, A B C D E, ...) for ROUNDS
// rounds, and each figure is the median over the rounds of the per-round median, with the fastest
// and slowest round beside it.
import { CircuitBreaker } from '@breaker/core';
import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleAll } from 'cockatiel';
import { measure } from 'mitata';
import Opossum from 'opossum';
import { breathe, envInt, max, median, min, ns, progress, ratio, runIfMain } from './lib.mjs';

const ROUNDS = envInt('BENCH_MICRO_ROUNDS', 21);
const WARMUP_ROUNDS = 2;
/** Awaited calls per sample. */
const INNER = 1_000;
/** CPU time each subject gets per round, in milliseconds. */
const ROUND_MS = envInt('BENCH_MICRO_ROUND_MS', 50);
const NEVER = Number.MAX_SAFE_INTEGER;
const HOUR = 3_600_000;

const value = { ok: true };
const failure = new Error('upstream failed');
const preMade = new Error('pre-made rejection');
// The function every subject guards.
const succeed = async () => value;
const fail = async () => {
  throw failure;
};
const pass = (v) => v;
const rethrow = (e) => {
  throw e;
};

// opossum: no per-call timer (Breaker has no deadline unless callTimeout is set), and no latency
// percentiles, whose sort on every failure grows with the window (see memory.mjs).
const opossumOptions = (extra) => ({
  timeout: false,
  rollingPercentilesEnabled: false,
  ...extra,
});

const AsyncFunction = (async () => {}).constructor;

/**
 * A loop of INNER awaited calls of `call`, compiled from source of its own so that V8 keeps the
 * type feedback of each subject apart; rejections are caught inside the loop.
 */
export function loop(label, call) {
  const body = new AsyncFunction(
    'call',
    `/* ${label} */ for (let i = 0; i < ${INNER}; i++) { try { await call(); } catch {} }`,
  );
  return () => body(call);
}

async function scenarios() {
  const closed = new CircuitBreaker({ name: 'micro-closed' });
  const failing = new CircuitBreaker({ name: 'micro-failing', failureThreshold: NEVER });
  const open = new CircuitBreaker({ name: 'micro-open', failureThreshold: 1, timeout: HOUR });
  await open.fire(fail).catch(() => {});

  const opClosed = new Opossum(succeed, opossumOptions({ name: 'micro-closed' }));
  const opFailing = new Opossum(
    fail,
    opossumOptions({ name: 'micro-failing', errorThresholdPercentage: 100 }),
  );
  const opOpen = new Opossum(fail, opossumOptions({ name: 'micro-open', resetTimeout: HOUR }));
  await opOpen.fire().catch(() => {});

  const ckClosed = circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
  const ckFailing = circuitBreaker(handleAll, {
    halfOpenAfter: 10_000,
    breaker: new ConsecutiveBreaker(NEVER),
  });
  const ckOpen = circuitBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(1) });
  await ckOpen.execute(fail).catch(() => {});

  const checks = () => {
    const problems = [];
    if (closed.state !== 'closed') problems.push('Breaker (a) is not closed');
    if (failing.state !== 'closed' || failing.stats().counts.failures === 0) {
      problems.push('Breaker (b) opened or never failed');
    }
    if (open.state !== 'open') problems.push('Breaker (c) is not open');
    if (!opClosed.closed || !opFailing.closed) problems.push('an opossum breaker of (a) or (b) opened');
    if (!opOpen.opened) problems.push('opossum (c) is not open');
    if (ckClosed.state !== CircuitState.Closed || ckFailing.state !== CircuitState.Closed) {
      problems.push('a cockatiel policy of (a) or (b) opened');
    }
    if (ckOpen.state !== CircuitState.Open) problems.push('cockatiel (c) is not open');
    if (problems.length > 0) throw new Error(`micro: ${problems.join('; ')}`);
  };

  return {
    checks,
    dispose: () => [closed, failing, open].forEach((b) => b.dispose()),
    shutdown: () => [opClosed, opFailing, opOpen].forEach((b) => b.shutdown()),
    list: [
      {
        key: 'success',
        heading: '(a) Closed, the call succeeds',
        baseline: 'FLOOR',
        context: 'bare',
        subjects: [
          ['bare', '`await fn()`', succeed],
          ['FLOOR', '`fn().then(v => v, e => { throw e })`', () => succeed().then(pass, rethrow)],
          ['Breaker', '`breaker.fire(fn)`', () => closed.fire(succeed)],
          ['opossum', '`breaker.fire()`', () => opClosed.fire()],
          ['cockatiel', '`policy.execute(fn)`', () => ckClosed.execute(succeed)],
        ],
      },
      {
        key: 'failure',
        heading: '(b) Closed, the call fails (thresholds never reached)',
        baseline: 'FLOOR',
        context: 'bare',
        subjects: [
          ['bare', '`await fn()`, rejecting', fail],
          ['FLOOR', 'the failing floor', () => fail().then(pass, rethrow)],
          ['Breaker', '`breaker.fire(fn)`', () => failing.fire(fail)],
          ['opossum', '`breaker.fire()`', () => opFailing.fire()],
          ['cockatiel', '`policy.execute(fn)`', () => ckFailing.execute(fail)],
        ],
      },
      {
        key: 'open',
        heading: '(c) Open, the call is turned away',
        baseline: 'pre-made rejection',
        context: 'closed floor',
        subjects: [
          ['pre-made rejection', '`await Promise.reject(preMadeError)`', () => Promise.reject(preMade)],
          ['Breaker', 'tripped by one failure', () => open.fire(succeed)],
          ['opossum', 'tripped by one failure', () => opOpen.fire()],
          ['cockatiel', 'tripped by one failure', () => ckOpen.execute(succeed)],
        ],
      },
    ],
  };
}

/** ns per call of one round of one subject: mitata's median sample divided by INNER. */
export async function sample(run) {
  const stats = await measure(run, {
    gc: false,
    batch_threshold: -1,
    min_samples: 12,
    min_cpu_time: ROUND_MS * 1e6,
  });
  return stats.p50 / INNER;
}

export async function run() {
  const setup = await scenarios();
  const loops = setup.list.map((scenario) =>
    scenario.subjects.map(([name, , call]) => loop(`${scenario.key} ${name}`, call)),
  );
  const times = setup.list.map((scenario) => scenario.subjects.map(() => []));
  for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
    if (round >= 0 && round % 5 === 0) progress(`micro: round ${round + 1} of ${ROUNDS}`);
    for (const [s, scenario] of setup.list.entries()) {
      for (const [i] of scenario.subjects.entries()) {
        const perCall = await sample(loops[s][i]);
        if (round >= 0) times[s][i].push(perCall);
        await breathe();
      }
    }
  }
  setup.checks();
  setup.dispose();
  setup.shutdown();

  const results = {};
  for (const [s, scenario] of setup.list.entries()) {
    results[scenario.key] = Object.fromEntries(
      scenario.subjects.map(([name], i) => [
        name,
        { median: median(times[s][i]), min: min(times[s][i]), max: max(times[s][i]) },
      ]),
    );
  }
  const closedFloor = results.success.FLOOR.median;

  const sections = setup.list.map((scenario) => {
    const figures = results[scenario.key];
    const base = figures[scenario.baseline].median;
    const context = scenario.context === 'bare' ? figures.bare.median : closedFloor;
    return {
      heading: scenario.heading,
      table: {
        columns: [
          'subject',
          'what is timed',
          'median ns/op',
          'min',
          'max',
          `× ${scenario.baseline}`,
          `× ${scenario.context}`,
        ],
        align: ['l', 'l'],
        rows: scenario.subjects.map(([name, what]) => {
          const f = figures[name];
          return [
            name,
            what,
            ns(f.median),
            ns(f.min),
            ns(f.max),
            ratio(f.median / base),
            ratio(f.median / context),
          ];
        }),
      },
    };
  });

  const breaker = (key, base) => results[key].Breaker.median / results[key][base].median;
  const targets = [
    { target: 'closed success ≤ 1.3× floor', value: breaker('success', 'FLOOR'), limit: 1.3 },
    { target: 'closed failure ≤ 1.2× failing floor', value: breaker('failure', 'FLOOR'), limit: 1.2 },
    {
      target: 'open rejection ≤ 1.5× pre-made rejection',
      value: breaker('open', 'pre-made rejection'),
      limit: 1.5,
    },
  ].map((t) => ({ ...t, figure: ratio(t.value), met: t.value <= t.limit }));

  return {
    title: 'Per call (micro.mjs)',
    intro:
      `ns per awaited call; median over ${ROUNDS} interleaved rounds of each round's median ` +
      `(${ROUND_MS} ms of loops of ${INNER} calls per subject and round), with the fastest and slowest round. ` +
      `opossum runs with \`timeout: false\` and \`rollingPercentilesEnabled: false\`; cockatiel with a ConsecutiveBreaker. ` +
      `The context column of (c) divides by the closed-success floor of (a).`,
    sections,
    results,
    targets,
  };
}

await runIfMain(import.meta, run);
