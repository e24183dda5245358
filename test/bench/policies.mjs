// A composed stack against the breaker alone: compose(fallback, bulkhead, retry, breaker) around a call
// that succeeds, and around one that fails (retries off, so each layer runs once), rounds interleaved.
import { CircuitBreaker, bulkhead, compose, fallback, retry } from '@breaker/core';
import { envInt, max, median, min, ns, progress, ratio, runIfMain } from './lib.mjs';

const ROUNDS = envInt('BENCH_POLICIES_ROUNDS', 15);
const CALLS = 20_000;
const NEVER = Number.MAX_SAFE_INTEGER;
const failure = new Error('upstream failed');
const succeed = async () => 1;
const fail = async () => {
  throw failure;
};

async function time(call) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) {
    try {
      await call();
    } catch {
      // counted as the subject's own outcome
    }
  }
  return Number(process.hrtime.bigint() - started) / CALLS;
}

function subjects(fn) {
  const alone = new CircuitBreaker({ name: 'alone', failureThreshold: NEVER });
  const inner = new CircuitBreaker({ name: 'stacked', failureThreshold: NEVER });
  const stack = compose(
    fallback(null, { when: () => false }),
    bulkhead({ maxConcurrent: 1_000 }),
    retry({ attempts: 1 }),
    inner,
  );
  return [
    ['breaker alone', '`breaker.fire(fn)`', () => alone.fire(fn)],
    ['stack', '`compose(fallback, bulkhead, retry, breaker).execute(fn)`', () => stack.execute(fn)],
  ];
}

async function scenario(fn) {
  const list = subjects(fn);
  const samples = list.map(() => []);
  for (let round = 0; round < ROUNDS + 2; round++) {
    for (let k = 0; k < list.length; k++) {
      const index = (round + k) % list.length;
      const result = await time(list[index][2]);
      if (round >= 2) samples[index].push(result);
    }
  }
  const base = median(samples[0]);
  return list.map(([name, what], i) => [
    name,
    what,
    ns(median(samples[i])),
    ns(min(samples[i])),
    ns(max(samples[i])),
    ratio(median(samples[i]) / base),
  ]);
}

export async function run() {
  progress(`policies: ${ROUNDS} rounds of ${CALLS} calls per subject`);
  const columns = ['subject', 'what is timed', 'median ns/op', 'min', 'max', '× breaker alone'];
  return {
    targets: [],
    title: 'Policies: a composed stack (policies.mjs)',
    intro: `${ROUNDS} interleaved rounds of ${CALLS} awaited calls per subject; the bulkhead never fills, the retry policy makes one attempt (its budget and backoff are still consulted), the fallback never answers.`,
    sections: [
      { heading: 'The call succeeds', table: { columns, rows: await scenario(succeed) } },
      { heading: 'The call fails', table: { columns, rows: await scenario(fail) } },
    ],
  };
}

await runIfMain(import.meta, run);
