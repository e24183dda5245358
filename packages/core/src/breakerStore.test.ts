import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import type { BreakerOptions } from './options.js';
import type { OutcomeBatch, SharedState, StateStore, StoreReplica } from './store.js';
import { ManualClock } from './testing.js';

/** A store that writes down what the breaker tells it, in order, and lets the test speak for the fleet. */
function recordingStore() {
  const log: string[] = [];
  const published: SharedState[] = [];
  const reports: OutcomeBatch[] = [];
  const replicas: StoreReplica[] = [];
  const store: StateStore = {
    connect(_name, replica) {
      replicas.push(replica);
      return {
        publish(state) {
          published.push(state);
          log.push(`publish ${state.state}`);
        },
        report(batch) {
          reports.push({ ...batch });
          log.push(`report ${batch.calls}/${batch.failures}/${batch.slow}`);
        },
        tryAcquireProbe: () => true,
        releaseProbe() {},
        close: () => void log.push('close'),
      };
    },
  };
  return { store, log, published, reports, replicas };
}

function connected(options: BreakerOptions = {}) {
  const clock = new ManualClock();
  const fleet = recordingStore();
  const breaker = new CircuitBreaker({ name: 'partner', clock, store: fleet.store, ...options });
  const replica = fleet.replicas[0]!;
  return { clock, breaker, replica, ...fleet };
}

const succeed = (breaker: CircuitBreaker, times = 1) => {
  for (let i = 0; i < times; i++) breaker.acquire().success();
};
const fail = (breaker: CircuitBreaker, times = 1) => {
  for (let i = 0; i < times; i++) breaker.acquire().failure(new Error('down'));
};

describe('what a breaker publishes to its store', () => {
  it('each local change, as a whole snapshot with its reason and this replica as origin', () => {
    const { breaker, clock, published, replica } = connected({ failureThreshold: 1, timeout: 1_000 });
    const start = clock.now();
    fail(breaker);
    clock.advance(1_000);
    succeed(breaker);
    expect(published).toEqual([
      {
        version: 1,
        name: 'partner',
        state: 'open',
        round: 1,
        openedAt: start,
        openUntil: start + 1_000,
        trips: 1,
        reason: 'consecutive-failures',
        origin: replica.id,
      },
      {
        version: 1,
        name: 'partner',
        state: 'half-open',
        round: 2,
        openedAt: start,
        openUntil: null,
        trips: 1,
        reason: 'timeout-elapsed',
        origin: replica.id,
      },
      {
        version: 1,
        name: 'partner',
        state: 'closed',
        round: 3,
        openedAt: start,
        openUntil: null,
        trips: 0,
        reason: 'trial-success',
        origin: replica.id,
      },
    ]);
  });

  it('names each replica after its breaker and this process, and no two alike', () => {
    const clock = new ManualClock();
    const fleet = recordingStore();
    new CircuitBreaker({ name: 'partner', clock, store: fleet.store });
    new CircuitBreaker({ name: 'partner', clock, store: fleet.store });
    const [a, b] = fleet.replicas.map((replica) => replica.id);
    expect(a).toMatch(new RegExp(`^partner#${process.pid}\\.\\d+\\.[0-9a-z]+$`));
    expect(b).toMatch(new RegExp(`^partner#${process.pid}\\.\\d+\\.[0-9a-z]+$`));
    expect(a).not.toBe(b);
  });

  it('hands the store its resolved options', () => {
    const { breaker, replica } = connected({ failureThreshold: 7 });
    expect(replica.options).toBe(breaker.options);
    expect(replica.options.failureThreshold).toBe(7);
  });

  it("reports a store's trouble as store-error, and keeps working", () => {
    const { breaker, replica } = connected();
    const errors: unknown[] = [];
    breaker.on('store-error', (event) => errors.push(event));
    const trouble = new Error('unreachable');
    replica.reportError(trouble);
    expect(errors).toEqual([{ error: trouble }]);
    succeed(breaker);
    expect(breaker.stats().counts.successes).toBe(1);
  });
});

describe('outcome counts reported to the store', () => {
  it('untimed calls go out with every 16th call once 250 ms have passed since the last report', () => {
    const { breaker, clock, reports } = connected({ failureThreshold: 1_000 });
    succeed(breaker, 16);
    expect(reports).toEqual([]);
    clock.advance(249);
    succeed(breaker, 16);
    expect(reports).toEqual([]);
    clock.advance(1);
    succeed(breaker, 15);
    expect(reports).toEqual([]);
    fail(breaker);
    expect(reports).toEqual([{ calls: 48, failures: 1, slow: 0 }]);
    clock.advance(300);
    succeed(breaker, 15);
    fail(breaker);
    expect(reports).toEqual([
      { calls: 48, failures: 1, slow: 0 },
      { calls: 16, failures: 1, slow: 0 },
    ]);
  });

  it('timed calls go out with the first call to end 250 ms after the last report, slow ones counted', () => {
    const { breaker, clock, reports } = connected({ failureThreshold: 1_000, slowCallDuration: 100 });
    const slow = breaker.acquire();
    clock.advance(100);
    slow.failure(new Error('slow and down'));
    const quick = breaker.acquire();
    clock.advance(50);
    quick.success();
    clock.advance(98);
    succeed(breaker);
    expect(reports).toEqual([]);
    const last = breaker.acquire();
    clock.advance(2);
    last.success();
    expect(reports).toEqual([{ calls: 4, failures: 1, slow: 1 }]);
    succeed(breaker);
    expect(reports).toHaveLength(1);
  });

  it('a batch of 10 000 calls goes out at once, whatever the time', () => {
    const { breaker, reports } = connected({ failureThreshold: 100_000, slowCallDuration: 10_000 });
    succeed(breaker, 9_999);
    expect(reports).toEqual([]);
    succeed(breaker);
    expect(reports).toEqual([{ calls: 10_000, failures: 0, slow: 0 }]);
  });

  it('goes out before the state change it led to is published', () => {
    const { breaker, log } = connected({ failureThreshold: 3 });
    succeed(breaker);
    fail(breaker, 3);
    expect(log).toEqual(['report 4/3/0', 'publish open']);
  });

  it('rejected, ignored and stale calls are not reported', () => {
    const { breaker, clock, reports } = connected({
      failureThreshold: 1,
      slowCallDuration: 1,
      isFailure: (error) => error !== 'not counted',
    });
    const early = breaker.acquire();
    breaker.acquire().failure('not counted');
    breaker.acquire().ignore();
    fail(breaker);
    expect(reports).toEqual([{ calls: 1, failures: 1, slow: 0 }]);
    expect(() => breaker.acquire()).toThrow();
    clock.advance(500);
    early.success();
    breaker.dispose();
    expect(reports).toHaveLength(1);
  });

  it('dispose sends what is left and leaves the store, once; nothing is sent when nothing is left', () => {
    const { breaker, log } = connected();
    succeed(breaker, 2);
    breaker.dispose();
    breaker.dispose();
    expect(log).toEqual(['report 2/0/0', 'close']);

    const idle = connected();
    idle.breaker.dispose();
    expect(idle.log).toEqual(['close']);
  });
});
