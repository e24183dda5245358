import { afterAll, describe, expect, it } from 'vitest';
import { runSoak, SHORT_DURATION_S, type SoakResult } from './soak.mjs';

// The runner cleans up after itself on every way out; aborting it here covers a test that times out,
// whose promise vitest leaves running.
const controller = new AbortController();
let running: Promise<SoakResult> | undefined;
afterAll(async () => {
  controller.abort();
  await running?.catch(() => {});
}, 30_000);

describe('a fleet of three replicas sharing breakers through Redis, under flapping and Redis faults', () => {
  it(`holds every invariant for the short soak (${SHORT_DURATION_S} s)`, async () => {
    running = runSoak({
      duration: SHORT_DURATION_S,
      signal: controller.signal,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    const result = await running;
    process.stderr.write(`${result.summary}\n`);
    const failed = result.invariants
      .filter((invariant) => !invariant.ok)
      .map((invariant) => `(${invariant.id}) ${invariant.title}: ${invariant.failure}`);
    expect(failed).toEqual([]);
  }, 120_000);
});
