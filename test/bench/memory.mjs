// What an idle breaker costs in heap and timers, and what one failure costs as the window grows.
// Run with `node --expose-gc memory.mjs`.
import { createHook } from 'node:async_hooks';
import { BreakerRegistry, CircuitBreaker } from '@breaker/core';
import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import Opossum from 'opossum';
import { breathe, envInt, median, num, progress, ratio, runIfMain, since } from './lib.mjs';

if (typeof globalThis.gc !== 'function') {
  console.error('memory.mjs needs the garbage collector: run it with `node --expose-gc memory.mjs`.');
  process.exit(2);
}

const BREAKERS = 10_000;
const HEAP_REPEATS = 3;
const TIMER_BREAKERS = 1_000;
const TIMER_CALLS = 100;
const SIZES = [100, 10_000, 100_000];
/** Time spent measuring failures, per library and window size, in milliseconds. */
const FAILURE_BUDGET_MS = envInt('BENCH_FAILURE_BUDGET_MS', 600);
const COST_ROUNDS = 3;

const value = { ok: true };
const failure = new Error('upstream failed');
const succeed = async () => value;
const fail = async () => {
  throw failure;
};

function fullGc() {
  for (let i = 0; i < 4; i++) globalThis.gc();
}

let registry = new BreakerRegistry({ maxSize: BREAKERS });

/** Each idle subject: how to make one (given a pre-allocated name), and how to let it go. */
const idleSubjects = [
  {
    name: 'Breaker',
    options: '`new CircuitBreaker({ name })`',
    make: (name) => new CircuitBreaker({ name }),
    call: (b) => b.fire(succeed),
    dispose: (b) => b.dispose(),
  },
  {
    name: 'Breaker, rate rule',
    options: '`{ name, failureRateThreshold: 50 }` (count window of 100)',
    make: (name) => new CircuitBreaker({ name, failureRateThreshold: 50 }),
    call: (b) => b.fire(succeed),
    dispose: (b) => b.dispose(),
  },
  {
    name: 'Breaker, from a registry',
    options: '`registry.get(name)` (its Map entry included)',
    reset: () => (registry = new BreakerRegistry({ maxSize: BREAKERS })),
    make: (name) => registry.get(name),
    call: (b) => b.fire(succeed),
    dispose: (b) => registry.delete(b.name),
  },
  {
    name: 'opossum',
    options: '`new CircuitBreaker(fn, { name })`',
    make: (name) => new Opossum(succeed, { name }),
    call: (b) => b.fire(),
    dispose: (b) => b.shutdown(),
  },
  {
    name: 'cockatiel',
    options: '`circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })`',
    make: () => circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    call: (b) => b.execute(succeed),
    dispose: () => {},
  },
];

/** Heap bytes per breaker over BREAKERS breakers, names and the array that holds them made first. */
function heapPerBreaker(subject) {
  const samples = [];
  for (let repeat = 0; repeat < HEAP_REPEATS; repeat++) {
    const names = Array.from({ length: BREAKERS }, (_, i) => `breaker-${repeat}-${i}`);
    const held = new Array(BREAKERS).fill(null);
    subject.reset?.();
    fullGc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < BREAKERS; i++) held[i] = subject.make(names[i]);
    fullGc();
    const after = process.memoryUsage().heapUsed;
    samples.push((after - before) / BREAKERS);
    for (const breaker of held) subject.dispose(breaker);
  }
  return median(samples);
}

/** Timers made while creating breakers (and those still armed after), and per call with defaults. */
async function timers(subject) {
  const live = new Set();
  let created = 0;
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      created++;
      live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  const names = Array.from({ length: TIMER_BREAKERS }, (_, i) => `timers-${i}`);
  hook.enable();
  const held = names.map((name) => subject.make(name));
  const perBreaker = created / TIMER_BREAKERS;
  const armed = live.size / TIMER_BREAKERS;
  created = 0;
  const breaker = held[0];
  for (let i = 0; i < TIMER_CALLS; i++) await subject.call(breaker);
  const perCall = created / TIMER_CALLS;
  hook.disable();
  for (const b of held) subject.dispose(b);
  return { perBreaker, armed, perCall };
}

/**
 * The failure-cost subjects: each makes a breaker whose window holds `size` calls and never opens
 * on them, and fires a success or a failure through it.
 */
const windowSubjects = [
  {
    name: 'Breaker',
    options: '`{ failureRateThreshold: 100, minimumCalls: N, window: { type: "count", size: N } }`',
    make(size) {
      const b = new CircuitBreaker({
        name: 'window',
        failureRateThreshold: 100,
        minimumCalls: size,
        window: { type: 'count', size },
      });
      return {
        ok: () => b.fire(succeed),
        fail: () => b.fire(fail),
        closed: () => b.state === 'closed',
        dispose: () => b.dispose(),
      };
    },
  },
  {
    name: 'opossum',
    options:
      'defaults (10 s rolling window, latency percentiles on), `volumeThreshold: N, errorThresholdPercentage: 100, timeout: false`',
    make: (size) => opossum(size, true),
  },
  {
    name: 'opossum, percentiles off',
    options: 'as above with `rollingPercentilesEnabled: false`',
    make: (size) => opossum(size, false),
  },
  {
    name: 'cockatiel',
    options: '`new SamplingBreaker({ threshold: 0.99, duration: 10_000, minimumRps: N / 10 })`',
    make(size) {
      const policy = circuitBreaker(handleAll, {
        halfOpenAfter: 10_000,
        breaker: new SamplingBreaker({ threshold: 0.99, duration: 10_000, minimumRps: size / 10 }),
      });
      return {
        ok: () => policy.execute(succeed),
        fail: () => policy.execute(fail),
        closed: () => policy.state === CircuitState.Closed,
        dispose: () => {},
      };
    },
  },
];

function opossum(size, percentiles) {
  const ok = new Opossum((f) => f(), {
    name: 'window',
    timeout: false,
    volumeThreshold: size,
    errorThresholdPercentage: 100,
    rollingPercentilesEnabled: percentiles,
  });
  return {
    ok: () => ok.fire(succeed),
    fail: () => ok.fire(fail),
    closed: () => ok.closed,
    dispose: () => ok.shutdown(),
  };
}

const hr = () => process.hrtime.bigint();

/**
 * ns per failure with `size` calls in the window, one sample per chunk of failures: fresh breakers
 * filled with `size` successes, then failures timed in chunks of about 50 µs, at most size / 2 per
 * breaker, until `budget` milliseconds have passed (at least one breaker).
 */
async function failureCost(subject, size, budget) {
  const perFailure = [];
  const started = performance.now();
  do {
    const breaker = subject.make(size);
    for (let i = 0; i < size; i++) await breaker.ok();
    const limit = Math.max(1, Math.floor(size / 2));
    let t0 = hr();
    await breaker.fail().catch(() => {});
    const first = Number(hr() - t0);
    const chunk = Math.max(1, Math.min(64, Math.floor(limit / 2), Math.floor(50_000 / Math.max(first, 1))));
    for (let done = 1; done + chunk <= limit && since(started) < budget; done += chunk) {
      t0 = hr();
      for (let k = 0; k < chunk; k++) {
        try {
          await breaker.fail();
        } catch {
          // Every call here fails.
        }
      }
      perFailure.push(Number(hr() - t0) / chunk);
    }
    if (!breaker.closed()) throw new Error(`memory: ${subject.name} opened with ${size} calls in its window`);
    breaker.dispose();
    await breathe();
  } while (since(started) < budget);
  return perFailure;
}

/** Failure cost at every size, the sizes taking turns for COST_ROUNDS rounds after a warm-up. */
async function failureCosts(subject) {
  await failureCost(subject, SIZES[0], FAILURE_BUDGET_MS / 10);
  const samples = Object.fromEntries(SIZES.map((size) => [size, []]));
  for (let round = 0; round < COST_ROUNDS; round++) {
    for (const size of SIZES)
      samples[size].push(...(await failureCost(subject, size, FAILURE_BUDGET_MS / COST_ROUNDS)));
  }
  return Object.fromEntries(SIZES.map((size) => [size, median(samples[size])]));
}

export async function run() {
  const idle = [];
  for (const subject of idleSubjects) {
    progress(`memory: idle ${subject.name}`);
    // Warm up: the first breakers of a kind pay for code and shapes, not for themselves.
    const warm = Array.from({ length: 200 }, (_, i) => subject.make(`warm-${i}`));
    for (const b of warm) subject.dispose(b);
    const bytes = heapPerBreaker(subject);
    const t = await timers(subject);
    idle.push({ name: subject.name, options: subject.options, bytes, ...t });
  }

  const costs = [];
  for (const subject of windowSubjects) {
    progress(`memory: failure cost, ${subject.name}`);
    const bySize = await failureCosts(subject);
    costs.push({ name: subject.name, options: subject.options, bySize });
  }

  const breakerIdle = idle.find((r) => r.name === 'Breaker');
  const breakerCost = costs.find((r) => r.name === 'Breaker').bySize;
  const growth = breakerCost[100_000] / breakerCost[100];
  const targets = [
    {
      target: '≤ 400 bytes heap per idle breaker',
      value: breakerIdle.bytes,
      figure: `${num(breakerIdle.bytes)} B`,
      limit: 400,
      met: breakerIdle.bytes <= 400,
    },
    {
      target: 'no timer per idle breaker',
      value: breakerIdle.perBreaker,
      figure: `${num(breakerIdle.perBreaker, 2)} created, ${num(breakerIdle.armed, 2)} armed`,
      limit: 0,
      met: breakerIdle.perBreaker === 0 && breakerIdle.armed === 0,
    },
    {
      target: 'failure cost flat from 100 to 100 000 calls in the window (≤ 1.25×)',
      value: growth,
      figure: ratio(growth),
      limit: 1.25,
      met: growth <= 1.25,
    },
  ];

  return {
    title: 'Memory and window size (memory.mjs)',
    sections: [
      {
        heading: 'Idle breakers',
        text:
          `Heap per breaker: \`heapUsed\` after minus before making ${num(BREAKERS)} breakers (names and the holding ` +
          `array made first, full GC before and after), median of ${HEAP_REPEATS}. Timers: \`Timeout\`s made while ` +
          `making ${num(TIMER_BREAKERS)} breakers (async_hooks \`init\`), those still armed after, and those made per ` +
          `successful call with these options.`,
        table: {
          columns: ['subject', 'options', 'heap B/breaker', 'timers made', 'timers armed', 'timers per call'],
          align: ['l', 'l'],
          rows: idle.map((r) => [
            r.name,
            r.options,
            num(r.bytes),
            num(r.perBreaker, 2),
            num(r.armed, 2),
            num(r.perCall, 2),
          ]),
        },
      },
      {
        heading: 'Cost of one failure with N calls in the window',
        text:
          'ns per failed call (`fire` of a rejecting function, rejection caught), median over chunks of failures ' +
          'timed on fresh breakers first filled with N successful calls, the sizes taking turns for ' +
          `${COST_ROUNDS} rounds; no breaker opens.`,
        table: {
          columns: ['subject', 'options', ...SIZES.map((s) => `N = ${num(s)}`), `${num(100_000)} / 100`],
          align: ['l', 'l'],
          rows: costs.map((r) => [
            r.name,
            r.options,
            ...SIZES.map((s) => num(r.bySize[s])),
            ratio(r.bySize[100_000] / r.bySize[100]),
          ]),
        },
      },
    ],
    results: { idle, costs },
    targets,
  };
}

await runIfMain(import.meta, run);
