// A simulated fleet in one process: each replica is a RedisStore of its own (its own two connections),
// holding the same breakers as every other replica, with calls spread evenly over time and breakers.
import { BreakerOpenError, CircuitBreaker } from '@breaker/core';
import { RedisStore } from '@breaker/redis';

const TICK_MS = 10;
/** Units start over this span, a group every tick. */
const SPREAD_MS = 1_000;
/** A late tick fires at most this many rounds of calls at once; the achieved rate shows any shortfall. */
const MAX_CATCH_UP = 4;
const FAILURE = new Error('upstream failed');

/** A small seeded generator (mulberry32), so that every run draws the same outcomes per breaker. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

export class Fleet {
  /** One entry per replica: { store, breakers }. */
  replicas = [];
  /** Every state change of every breaker: { t, replica, index, from, to, reason, window }. */
  changes = [];
  storeErrors = new Map();
  breakerErrors = new Map();
  /** performance.now() of each store's `ready` events. */
  ready = [];
  calls = { fired: 0, rejected: 0, failed: 0 };
  #hanging = [];
  #timer;

  constructor({ url, replicas, breakers, rate }) {
    this.size = replicas;
    this.breakers = breakers;
    this.rate = rate;
    this.created = performance.now();
    for (let r = 0; r < replicas; r++) {
      const store = new RedisStore({ url });
      store.on('error', ({ error }) => count(this.storeErrors, `${error.name}: ${error.message}`));
      store.on('ready', () => this.ready.push({ replica: r, at: performance.now() }));
      this.replicas.push({ store, breakers: [] });
    }
  }

  get units() {
    return this.size * this.breakers;
  }

  /** Resolves once every store is connected. */
  async connected(timeoutMs = 15_000) {
    const until = performance.now() + timeoutMs;
    while (!this.replicas.every(({ store }) => store.connected)) {
      if (performance.now() > until) throw new Error('the stores did not connect in time');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Gives every replica `breakers` breakers named `${tag}-0`, `${tag}-1`, … with these options. */
  addBreakers(tag, options) {
    for (const [r, replica] of this.replicas.entries()) {
      replica.breakers = [];
      for (let i = 0; i < this.breakers; i++) {
        const breaker = new CircuitBreaker({ ...options, name: `${tag}-${i}`, store: replica.store });
        breaker.on('state-change', ({ from, to, reason }) => {
          const window = reason === 'failure-rate' ? breaker.stats().window : undefined;
          this.changes.push({ t: performance.now(), replica: r, index: i, from, to, reason, window });
        });
        breaker.on('store-error', ({ error }) =>
          count(this.breakerErrors, `${error.name}: ${error.message}`),
        );
        replica.breakers.push(breaker);
      }
    }
    this.changes = [];
  }

  /**
   * Calls every breaker of every replica `rate` times a second. The units start one after the other
   * over the first second (in groups, a tick apart), so that their calls, and the batches they flush,
   * are spread evenly over time. `outcome(unit)` says what each call does: 'ok', 'fail', or 'hang'
   * (until `release()`). Each unit has its own seeded `random()`.
   */
  startTraffic(outcome) {
    this.stopTraffic();
    const interval = 1_000 / this.rate;
    const groups = Math.round(SPREAD_MS / TICK_MS);
    const plan = Array.from({ length: groups }, (_, g) => ({
      phase: (g * SPREAD_MS) / groups,
      done: 0,
      units: [],
    }));
    let k = 0;
    for (let i = 0; i < this.breakers; i++) {
      for (const [r, replica] of this.replicas.entries()) {
        const unit = {
          replica: r,
          index: i,
          breaker: replica.breakers[i],
          random: seeded(r * 100_003 + i + 1),
        };
        plan[Math.floor((k++ * groups) / this.units)].units.push(unit);
      }
    }
    const fns = {
      ok: () => 1,
      fail: () => {
        throw FAILURE;
      },
      hang: () => new Promise((resolve) => this.#hanging.push(resolve)),
    };
    const calls = this.calls;
    const settled = () => {};
    const refused = (error) => {
      if (error instanceof BreakerOpenError) calls.rejected++;
      else calls.failed++;
    };
    const start = performance.now();
    const tick = () => {
      const now = performance.now() - start;
      for (const group of plan) {
        if (now < group.phase) continue;
        const due = Math.floor((now - group.phase) / interval) + 1;
        const rounds = Math.min(due - group.done, MAX_CATCH_UP);
        group.done = due;
        for (let n = 0; n < rounds; n++) {
          for (const unit of group.units) {
            calls.fired++;
            unit.breaker.fire(fns[outcome(unit)]).then(settled, refused);
          }
        }
      }
    };
    this.#timer = setInterval(tick, TICK_MS);
    tick();
  }

  /** Has every breaker succeed `calls` times at once, outside the counted traffic. */
  prime(calls) {
    const ok = () => 1;
    for (const replica of this.replicas) {
      for (const breaker of replica.breakers) {
        for (let n = 0; n < calls; n++) breaker.fire(ok).catch(() => {});
      }
    }
  }

  stopTraffic() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Calls admitted and hanging. */
  get hanging() {
    return this.#hanging.length;
  }

  /** Lets every hanging call succeed. */
  release() {
    for (const resolve of this.#hanging.splice(0)) resolve(1);
  }

  /** Zeroes the call counters; returns what they held. */
  takeCalls() {
    const calls = { ...this.calls };
    this.calls.fired = this.calls.rejected = this.calls.failed = 0;
    return calls;
  }

  /** Disposes every breaker (each flushes its counts and leaves its store). */
  disposeBreakers() {
    this.stopTraffic();
    this.release();
    for (const replica of this.replicas) {
      for (const breaker of replica.breakers) breaker.dispose();
      replica.breakers = [];
    }
  }

  async close() {
    this.disposeBreakers();
    await Promise.all(this.replicas.map(({ store }) => store.close()));
  }
}
