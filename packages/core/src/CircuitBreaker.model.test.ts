/**
 * Model-based property test: random sequences of commands run against a real CircuitBreaker on a
 * ManualClock and against a small reference model of the breaker's rules, written here from the
 * rules alone (it shares no code with state.ts). After every command the breaker's state, whether
 * a call was admitted (and which state turned it away), and the visible counters must agree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { BreakerOpenError } from './errors.js';
import { ManualClock } from './testing.js';

interface Config {
  failureThreshold: number;
  successThreshold: number;
  timeout: number;
  halfOpenMaxConcurrent: number;
  halfOpenPermitTimeout: number;
  /** Start the run half-open: `failureThreshold` calls fail, then the clock passes `timeout`. */
  startHalfOpen: boolean;
}

type ModelState = 'closed' | 'open' | 'half-open' | 'forced-open';
type Outcome = 'success' | 'failure' | 'ignored';

/** An error the `isFailure` option turns down: it counts neither way. */
class IgnoredError extends Error {
  override readonly name = 'IgnoredError';
}

/** An upstream failure that counts. */
class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
}

interface ModelCall {
  id: number;
  /** The round the call was admitted in. */
  round: number;
  /** Model time at admission. */
  start: number;
  /** Whether it was admitted as a half-open trial. */
  trial: boolean;
}

type Admission =
  { admitted: true; call: ModelCall } | { admitted: false; by: 'open' | 'half-open' | 'forced-open' };

/** The reference model: the rules of the brief, nothing more. Time is relative to the start. */
class Model {
  now = 0;
  state: ModelState = 'closed';
  round = 0;
  consecutiveFailures = 0;
  openedAt = 0;
  trialSuccesses = 0;
  /** Trials in flight in the current half-open round, oldest first. */
  trials: ModelCall[] = [];
  /** Every admitted call not yet settled, whatever its round, oldest first. */
  pending: ModelCall[] = [];
  nextId = 1;
  readonly trace: string[] = [];
  /** Which interesting paths this run went through, to check the generator reaches them. */
  readonly seen = new Set<string>();

  constructor(readonly config: Config) {}

  log(line: string): void {
    this.trace.push(`t=${this.now} ${line} => ${this.describe()}`);
  }

  describe(): string {
    const parts: string[] = [this.state];
    if (this.state === 'closed') parts.push(`consecutiveFailures=${this.consecutiveFailures}`);
    if (this.state === 'open') parts.push(`openUntil=${this.openedAt + this.config.timeout}`);
    if (this.state === 'half-open') {
      parts.push(`trials=[${this.trials.map((c) => `#${c.id}@${c.start}`).join(',')}]`);
      parts.push(`trialSuccesses=${this.trialSuccesses}`);
    }
    parts.push(`round=${this.round}`);
    parts.push(`pending=[${this.pending.map((c) => `#${c.id}r${c.round}`).join(',')}]`);
    return parts.join(' ');
  }

  /** Every state change starts a new round, even one to the same state (`reset()` while closed). */
  enter(state: ModelState, why: string): void {
    this.seen.add(`${this.state}->${state} (${why})`);
    this.state = state;
    this.round++;
    if (state === 'open') this.openedAt = this.now;
    if (state === 'half-open') {
      this.trials = [];
      this.trialSuccesses = 0;
    }
    if (state === 'closed') {
      this.consecutiveFailures = 0;
      this.trials = [];
      this.trialSuccesses = 0;
    }
  }

  advance(ms: number): void {
    this.now += ms;
    if (this.state === 'open' && this.now >= this.openedAt + this.config.timeout) {
      this.enter('half-open', 'timeout elapsed');
    }
  }

  fire(): Admission {
    const { halfOpenMaxConcurrent, halfOpenPermitTimeout, timeout } = this.config;
    if (this.state === 'open' && this.now >= this.openedAt + timeout)
      this.enter('half-open', 'timeout elapsed');
    switch (this.state) {
      case 'closed':
        return { admitted: true, call: this.#admit(false) };
      case 'open':
        return { admitted: false, by: 'open' };
      case 'forced-open':
        return { admitted: false, by: 'forced-open' };
      case 'half-open': {
        const oldest = this.trials[0];
        if (oldest !== undefined && this.now - oldest.start >= halfOpenPermitTimeout) {
          this.enter('open', 'probe expired');
          return { admitted: false, by: 'open' };
        }
        if (this.trials.length >= halfOpenMaxConcurrent) {
          this.seen.add('half-open full');
          return { admitted: false, by: 'half-open' };
        }
        const call = this.#admit(true);
        this.trials.push(call);
        return { admitted: true, call };
      }
    }
  }

  #admit(trial: boolean): ModelCall {
    const call = { id: this.nextId++, round: this.round, start: this.now, trial };
    this.pending.push(call);
    return call;
  }

  settle(call: ModelCall, outcome: Outcome): void {
    this.pending = this.pending.filter((c) => c !== call);
    if (call.round !== this.round) {
      this.seen.add(`stale ${outcome}`);
      return;
    }
    if (this.state === 'closed') {
      if (outcome === 'success') this.consecutiveFailures = 0;
      if (outcome === 'failure' && ++this.consecutiveFailures >= this.config.failureThreshold) {
        this.enter('open', 'consecutive failures');
      }
      return;
    }
    if (this.state === 'half-open') {
      this.trials = this.trials.filter((c) => c !== call);
      if (outcome === 'ignored') this.seen.add('ignored trial');
      if (outcome === 'success' && ++this.trialSuccesses >= this.config.successThreshold) {
        this.enter('closed', 'trial successes');
      }
      if (outcome === 'failure') this.enter('open', 'trial failure');
      return;
    }
    // open and forced-open admit nothing, so no call of their round can settle.
    throw new Error(`model: call #${call.id} of the current round settled while ${this.state}`);
  }
}

interface LiveCall {
  resolve(value: number): void;
  reject(error: Error): void;
  /** The fire() promise with its outcome caught, so no rejection goes unhandled. */
  outcome: Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }>;
}

interface Real {
  clock: ManualClock;
  breaker: CircuitBreaker;
  /** Live calls by model id. */
  calls: Map<number, LiveCall>;
}

type Command = fc.AsyncCommand<Model, Real>;

function trace(model: Model): string {
  return `config ${JSON.stringify(model.config)}\n  ${model.trace.join('\n  ')}`;
}

/** The checks made after every command. */
function verify(model: Model, real: Real): void {
  const why = trace(model);
  expect(real.clock.now() - START, why).toBe(model.now);
  expect(real.breaker.state, why).toBe(model.state);
  const stats = real.breaker.stats();
  if (model.state === 'closed') {
    expect(stats.consecutiveFailures, `consecutiveFailures\n${why}`).toBe(model.consecutiveFailures);
  }
  if (model.state === 'half-open') {
    expect(stats.halfOpen, `halfOpen stats\n${why}`).toEqual({
      successes: model.trialSuccesses,
      inFlight: model.trials.length,
    });
  }
}

const START = Date.UTC(2026, 0, 1);

class FireCommand implements Command {
  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const expected = model.fire();
    let invoked = false;
    let live: Pick<LiveCall, 'resolve' | 'reject'> | undefined;
    const promise = real.breaker.fire(() => {
      invoked = true;
      return new Promise<number>((resolve, reject) => {
        live = { resolve, reject };
      });
    });
    const outcome = promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (expected.admitted) {
      model.log(`fire: admitted #${expected.call.id}${expected.call.trial ? ' as a trial' : ''}`);
      expect(invoked, `call #${expected.call.id} should have been admitted\n${trace(model)}`).toBe(true);
      real.calls.set(expected.call.id, { ...live!, outcome });
    } else {
      model.log(`fire: rejected by ${expected.by}`);
      // Checked before awaiting: an admitted call's promise would never settle.
      expect(invoked, `the call should have been rejected by ${expected.by}\n${trace(model)}`).toBe(false);
      const result = await outcome;
      expect(result.ok, trace(model)).toBe(false);
      const error = result.ok ? undefined : result.error;
      expect(error, trace(model)).toBeInstanceOf(BreakerOpenError);
      expect((error as BreakerOpenError).state, `rejecting state\n${trace(model)}`).toBe(expected.by);
    }
    verify(model, real);
  }

  toString(): string {
    return 'fire()';
  }
}

class SettleCommand implements Command {
  constructor(
    /** Which pending call, oldest first, modulo how many there are. */
    readonly pick: number,
    readonly outcome: Outcome,
  ) {}

  check(model: Readonly<Model>): boolean {
    return model.pending.length > 0;
  }

  async run(model: Model, real: Real): Promise<void> {
    const call = model.pending[this.pick % model.pending.length]!;
    const live = real.calls.get(call.id)!;
    real.calls.delete(call.id);
    const error =
      this.outcome === 'failure'
        ? new UpstreamError(`#${call.id} failed`)
        : this.outcome === 'ignored'
          ? new IgnoredError(`#${call.id} ignored`)
          : undefined;
    if (error === undefined) live.resolve(call.id);
    else live.reject(error);
    // fire() settles its promise only after the breaker has seen the outcome.
    const result = await live.outcome;
    model.settle(call, this.outcome);
    model.log(`${this.outcome} of #${call.id} (admitted in round ${call.round})`);
    expect(result, trace(model)).toEqual(
      error === undefined ? { ok: true, value: call.id } : { ok: false, error },
    );
    verify(model, real);
  }

  toString(): string {
    return `settle(pending[${this.pick} % n], ${this.outcome})`;
  }
}

class AdvanceCommand implements Command {
  constructor(readonly ms: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    real.clock.advance(this.ms);
    model.advance(this.ms);
    model.log(`advance ${this.ms}`);
    verify(model, real);
  }

  toString(): string {
    return `advance(${this.ms})`;
  }
}

class ResetCommand implements Command {
  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    real.breaker.reset();
    model.enter('closed', 'reset');
    model.log('reset()');
    verify(model, real);
  }

  toString(): string {
    return 'reset()';
  }
}

class ForceOpenCommand implements Command {
  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    real.breaker.forceOpen();
    model.enter('forced-open', 'forceOpen');
    model.log('forceOpen()');
    verify(model, real);
  }

  toString(): string {
    return 'forceOpen()';
  }
}

const TIMEOUT = 1_000;

const configArb: fc.Arbitrary<Config> = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 4 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
  timeout: fc.constant(TIMEOUT),
  halfOpenMaxConcurrent: fc.integer({ min: 1, max: 3 }),
  halfOpenPermitTimeout: fc.constantFrom(5_000, 1_500, 500),
  startHalfOpen: fc.boolean(),
});

// Amounts around the open timeout and the permit timeouts, and some arbitrary ones.
const advanceArb = fc.oneof(
  fc.constantFrom(0, 1, 250, 499, 500, 999, 1_000, 1_001, 1_499, 1_500, 2_500, 4_999, 5_000),
  fc.integer({ min: 0, max: 6_000 }),
);

const outcomeArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Outcome>('success') },
  { weight: 3, arbitrary: fc.constant<Outcome>('failure') },
  { weight: 1, arbitrary: fc.constant<Outcome>('ignored') },
);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 20, arbitrary: fc.constant(new FireCommand()) },
  {
    weight: 20,
    arbitrary: fc
      .tuple(fc.nat({ max: 7 }), outcomeArb)
      .map(([pick, outcome]) => new SettleCommand(pick, outcome)),
  },
  { weight: 12, arbitrary: advanceArb.map((ms) => new AdvanceCommand(ms)) },
  { weight: 1, arbitrary: fc.constant(new ResetCommand()) },
  { weight: 1, arbitrary: fc.constant(new ForceOpenCommand()) },
);

describe('CircuitBreaker against a reference model', () => {
  it('agrees with the model after every command', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.commands([commandArb], { maxCommands: 40, size: 'max' }),
        async (config, commands) => {
          const clock = new ManualClock(START);
          const breaker = new CircuitBreaker({
            name: 'model',
            clock,
            failureThreshold: config.failureThreshold,
            successThreshold: config.successThreshold,
            timeout: config.timeout,
            halfOpenMaxConcurrent: config.halfOpenMaxConcurrent,
            halfOpenPermitTimeout: config.halfOpenPermitTimeout,
            isFailure: (error) => !(error instanceof IgnoredError),
          });
          const model = new Model(config);
          const real: Real = { clock, breaker, calls: new Map() };
          try {
            if (config.startHalfOpen) {
              // Through the same commands and checks as the random part, so the trace shows it.
              for (let i = 0; i < config.failureThreshold; i++) await new FireCommand().run(model, real);
              for (let i = 0; i < config.failureThreshold; i++) {
                await new SettleCommand(0, 'failure').run(model, real);
              }
              await new AdvanceCommand(config.timeout).run(model, real);
              model.trace.push('(random commands start here)');
            }
            await fc.asyncModelRun(() => ({ model, real }), commands);
          } finally {
            breaker.dispose();
          }
          for (const path of model.seen) seen.set(path, (seen.get(path) ?? 0) + 1);
        },
      ),
      { numRuns: 1000 },
    );
    // The generator must reach the paths the rules are about, or the test proves little.
    for (const path of [
      'closed->open (consecutive failures)',
      'open->half-open (timeout elapsed)',
      'half-open->closed (trial successes)',
      'half-open->open (trial failure)',
      'half-open->open (probe expired)',
      'half-open full',
      'ignored trial',
      'stale success',
      'stale failure',
      'stale ignored',
    ]) {
      expect(seen.get(path) ?? 0, `runs reaching "${path}"`).toBeGreaterThan(0);
    }
  }, 20_000);
});
