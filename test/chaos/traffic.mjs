// The chaos run's clients: open-loop requests to every target (gateway and route kind) at a steady rate
// while traffic is on, a share of them hanging up at a random moment in one of several ways. Each
// request is kept as a small record (its answer, its timing, the partner phase it was sent in); what a
// gateway sent is searched for the partner's marker, and kept only when it holds it or breaks a rule.
import { performance } from 'node:perf_hooks';
import {
  ANSWER_LIMIT_MS,
  CLOSE_WAIT_MS,
  HANGUP_KINDS,
  HANGUP_SHARE,
  HANGUP_WITHIN_MS,
  MAX_IN_FLIGHT,
  RATE_PER_TARGET,
  TARGETS,
  pick,
} from './plan.mjs';
import { sleep } from './processes.mjs';
import { exchange, latin1 } from './wire.mjs';

const TICK_MS = 10;
const SAMPLES_KEPT = 40;

/** Where `text` holds `marker`, with some context either side, for the report. */
export function excerpt(text, marker) {
  const at = text.indexOf(marker);
  const from = Math.max(0, at - 120);
  return JSON.stringify(text.slice(from, at + marker.length + 60));
}

export class Traffic {
  records = [];
  samples = { leaks: [], broken: [] };
  inFlight = 0;
  skipped = 0;
  #on = false;
  #running = new Set();
  #nextId = 1;

  /** `ports`: each gateway's port by name; `phase()`: the index of the partner phase now. */
  constructor({ ports, marker, random, phase, t0 }) {
    this.ports = ports;
    this.marker = marker;
    this.random = random;
    this.phase = phase;
    this.t0 = t0;
  }

  set on(value) {
    this.#on = value;
  }

  /** Sends on schedule until `stop` aborts, then waits for every request still out. */
  async run(stop) {
    const credit = TARGETS.map(() => 0);
    let last = performance.now();
    while (!stop.aborted) {
      await sleep(TICK_MS);
      const now = performance.now();
      const elapsed = Math.min(now - last, 200);
      last = now;
      if (!this.#on) continue;
      for (const [index, target] of TARGETS.entries()) {
        credit[index] += (RATE_PER_TARGET * elapsed) / 1_000;
        while (credit[index] >= 1) {
          credit[index]--;
          if (this.inFlight >= MAX_IN_FLIGHT) this.skipped++;
          else this.#send(index, target);
        }
      }
    }
    await this.drain();
  }

  async drain() {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #send(index, target) {
    const id = this.#nextId++;
    const port = this.ports[target.gateway];
    const bytes = latin1(
      `GET /${target.kind}/${id} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: breaker-chaos\r\n` +
        'Accept: application/json\r\nConnection: close\r\n\r\n',
    );
    const hangup =
      this.random() < HANGUP_SHARE
        ? { afterMs: Math.round(this.random() * HANGUP_WITHIN_MS), how: pick(this.random, HANGUP_KINDS) }
        : undefined;
    const record = { id, target: index, at: Date.now() - this.t0, phase: this.phase() };
    this.records.push(record);
    this.inFlight++;
    const done = exchange({ port, bytes, hangup, limitMs: ANSWER_LIMIT_MS, closeWaitMs: CLOSE_WAIT_MS }).then(
      (result) => {
        this.inFlight--;
        this.#running.delete(done);
        this.#keep(record, result);
      },
    );
    this.#running.add(done);
  }

  #keep(record, result) {
    record.outcome = result.outcome;
    record.status = result.status;
    if (result.fallback !== undefined) record.fallback = result.fallback;
    record.headMs = result.headMs;
    if (result.connectMs === null || result.connectMs > 100) record.connectMs = result.connectMs;
    record.totalMs = result.totalMs;
    if (result.hungUp !== null) record.hungUp = result.hungUp;
    if (result.error !== '') record.error = result.error;
    const leak = result.raw.includes(this.marker);
    if (leak) {
      record.leak = true;
      if (this.samples.leaks.length < SAMPLES_KEPT) {
        this.samples.leaks.push({
          id: record.id,
          status: result.status,
          excerpt: excerpt(result.raw, this.marker),
        });
      }
    }
    const broken = ['malformed', 'extra', 'hung'].includes(result.outcome);
    if (broken && this.samples.broken.length < SAMPLES_KEPT) {
      this.samples.broken.push({
        id: record.id,
        outcome: result.outcome,
        parseError: result.parseError,
        extraBytes: result.extraBytes,
        raw: JSON.stringify(result.raw.slice(0, 400)),
      });
    }
  }
}
