import { afterAll, describe, expect, it } from 'vitest';
import { runChaos, SHORT_DURATION_S, SHORT_FUZZ_CASES, type ChaosResult } from '../chaos/chaos.mjs';

// The runner cleans up after itself on every way out; aborting it here covers a test that times out,
// whose promise vitest leaves running.
const controller = new AbortController();
let running: Promise<ChaosResult> | undefined;
afterAll(async () => {
  controller.abort();
  await running?.catch(() => {});
}, 30_000);

describe('an Express and a Koa gateway in front of a partner that fails in every way, under clients that hang up', () => {
  it(`holds every invariant for the short chaos run (${SHORT_DURATION_S} s and ${SHORT_FUZZ_CASES} fuzz cases)`, async () => {
    running = runChaos({
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
