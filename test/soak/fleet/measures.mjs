// Measurements of a finished fleet soak: each breaker's state timeline per replica, the Redis outages,
// how long the replicas disagreed, how soon breakers closed after each heal, and resource growth between
// the checkpoints.
import {
  AGREEMENT_LIMIT_MS,
  BREAKERS,
  CALL_TIMEOUT_MS,
  PROPAGATION_ALLOWANCE_MS,
  RECONNECT_ALLOWANCE_MS,
} from './plan.mjs';

export function timelines(run) {
  const byBreaker = {};
  for (const breaker of BREAKERS) byBreaker[breaker.name] = run.replicas.map(() => []);
  for (const [i, replica] of run.replicas.entries()) {
    for (const entry of replica.transitions) {
      byBreaker[entry.name]?.[i].push({
        at: entry.at - run.t0,
        state: entry.to,
        reason: entry.reason,
        round: entry.round,
      });
    }
  }
  return byBreaker;
}

function entryAt(timeline, t) {
  let found;
  for (const entry of timeline) {
    if (entry.at > t) break;
    found = entry;
  }
  return found;
}

const describeAt = (timeline, t) => {
  const entry = entryAt(timeline, t);
  return entry === undefined ? '-' : `${entry.state} (round ${entry.round}, ${entry.reason})`;
};

function stateAt(timeline, t) {
  let state;
  for (const entry of timeline) {
    if (entry.at > t) break;
    state = entry.state;
  }
  return state;
}

/** Intervals in which Redis was down or some replica's store not yet back; invariant 1 skips them. */
export function outages(run) {
  return run.redis.kills.map((kill, i) => {
    const restart = run.redis.restarts[i]?.at ?? run.endAt;
    const back = run.polls.find((p) => p.at - run.t0 >= restart && p.connected.every((c) => c === true));
    const backAt = back ? back.at - run.t0 : Infinity;
    const to = Math.min(backAt, restart + RECONNECT_ALLOWANCE_MS, run.endAt);
    return { from: kill.at, restart, to, reconnected: backAt <= restart + RECONNECT_ALLOWANCE_MS };
  });
}

function subtract(from, to, windows) {
  let pieces = [[from, to]];
  for (const w of windows) {
    pieces = pieces.flatMap(([a, b]) => {
      if (w.to <= a || w.from >= b) return [[a, b]];
      const out = [];
      if (w.from > a) out.push([a, w.from]);
      if (w.to < b) out.push([w.to, b]);
      return out;
    });
  }
  return pieces;
}

export function agreement(run, lines, windows) {
  return BREAKERS.map(({ name }) => {
    const perReplica = lines[name];
    const times = [...new Set(perReplica.flat().map((e) => e.at))]
      .filter((t) => t <= run.endAt)
      .sort((a, b) => a - b);
    const episodes = [];
    let open = null;
    for (const t of times) {
      const states = perReplica.map((timeline) => stateAt(timeline, t));
      const present = states.filter((state) => state !== undefined);
      const disagree = new Set(present).size > 1;
      if (disagree && open === null) open = { from: t, states };
      if (!disagree && open !== null) {
        episodes.push({ ...open, to: t });
        open = null;
      }
    }
    if (open !== null) episodes.push({ ...open, to: run.endAt, unresolved: true });
    let worst = { ms: 0 };
    let over = 0;
    for (const episode of episodes) {
      for (const [a, b] of subtract(episode.from, episode.to, windows)) {
        if (b - a > AGREEMENT_LIMIT_MS) over++;
        if (b - a > worst.ms) {
          const states = perReplica.map((timeline) => describeAt(timeline, a));
          worst = { ms: b - a, from: a, to: b, states, unresolved: episode.unresolved && b === episode.to };
        }
      }
    }

    // The same from the polls alone: a lower bound that needs no clock but the runner's.
    let polled = { ms: 0 };
    let run0 = null;
    for (const sample of run.polls) {
      const t = sample.at - run.t0;
      const inOutage = windows.some((w) => t >= w.from && t < w.to);
      const present = sample.states[name].filter((state) => state !== undefined);
      const disagree = !inOutage && new Set(present).size > 1;
      if (disagree) {
        run0 ??= t;
        if (t - run0 > polled.ms) polled = { ms: t - run0, from: run0, states: sample.states[name] };
      } else {
        run0 = null;
      }
    }
    const ms = Math.max(worst.ms, polled.ms);
    return { name, ms, worst, polled, episodes: episodes.length, over, ok: ms <= AGREEMENT_LIMIT_MS };
  });
}

function firstAtOrAfter(sorted, t) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo];
}

export function recovery(run, lines) {
  const heals = [];
  for (const phase of run.plan.phases) {
    if (phase.healAt === undefined) continue;
    const fault = run.partner.modes.find((m) => m.cycle === phase.cycle && !m.heal);
    const heal = run.partner.modes.find((m) => m.cycle === phase.cycle && m.heal);
    if (!fault || !heal) continue;
    const end = Math.min(phase.to, run.endAt);
    const breakers = BREAKERS.map(({ name, openMs }) => {
      const perReplica = lines[name];
      const tripped = perReplica.some(
        (timeline) =>
          stateAt(timeline, heal.at) === 'open' ||
          timeline.some((e) => e.at >= fault.at && e.at <= heal.at && e.state === 'open'),
      );
      const start = heal.at + CALL_TIMEOUT_MS + openMs;
      const firstSend = firstAtOrAfter(run.requests.sends[name], run.t0 + start);
      const trialAt = firstSend === undefined ? undefined : firstSend - run.t0;
      const gap = trialAt === undefined || trialAt >= end ? null : trialAt - start;
      const bound =
        gap === null ? null : CALL_TIMEOUT_MS + openMs + gap + CALL_TIMEOUT_MS + PROPAGATION_ALLOWANCE_MS;
      const replicas = perReplica.map((timeline) => {
        const finalState = stateAt(timeline, end);
        if (finalState !== 'closed') return { closed: false, ms: end - heal.at, state: finalState ?? '-' };
        const changes = timeline.filter((e) => e.at > heal.at && e.at <= end);
        return { closed: true, ms: changes.length === 0 ? 0 : changes.at(-1).at - heal.at };
      });
      const worst = Math.max(...replicas.map((r) => r.ms));
      const allClosed = replicas.every((r) => r.closed);
      let verdict;
      if (bound === null) verdict = allClosed ? 'ok' : 'no trial offered';
      else if (allClosed) verdict = worst <= bound ? 'ok' : 'late';
      else verdict = end - heal.at > bound ? 'never' : 'not observed long enough';
      return { name, tripped, gap, bound, replicas, worst, allClosed, verdict };
    });
    heals.push({ cycle: phase.cycle, name: phase.name, at: heal.at, level: phase.healLevel, end, breakers });
  }
  return heals;
}

function minOver(snapshots, pick) {
  const values = snapshots.filter(Boolean).map(pick);
  const keys = new Set(values.flatMap((v) => Object.keys(v)));
  const out = {};
  for (const key of keys) out[key] = Math.min(...values.map((v) => v[key] ?? 0));
  return out;
}

function flatten(snapshot) {
  const out = {};
  for (const [type, count] of Object.entries(snapshot.resources)) out[`handle ${type}`] = count;
  out['timers (ref)'] = snapshot.timers.ref;
  out['timers (unref)'] = snapshot.timers.unref;
  for (const [event, count] of Object.entries(snapshot.listeners.process))
    out[`process '${event}' listeners`] = count;
  for (const [event, count] of Object.entries(snapshot.listeners.server))
    out[`server '${event}' listeners`] = count;
  out['store listeners'] = snapshot.listeners.store;
  out['registry listeners'] = snapshot.listeners.registry;
  out['breaker listeners'] = snapshot.listeners.breakers;
  out.breakers = Object.keys(snapshot.breakers).length;
  return out;
}

export function resources(run) {
  return run.replicas.map((replica, i) => {
    const early = run.checkpoints.early.map((c) => c.snapshots[i]).filter(Boolean);
    const end = run.checkpoints.end.map((c) => c.snapshots[i]).filter(Boolean);
    if (early.length === 0 || end.length === 0) {
      return { id: replica.id, ok: false, missing: true, growth: [], rows: [] };
    }
    const a = minOver(early, flatten);
    const b = minOver(end, flatten);
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    const rows = keys.map((key) => ({ key, early: a[key] ?? 0, end: b[key] ?? 0 }));
    // Timers are judged kind by kind: one periodic timer that is there at the end may have started late
    // (or been between two runs early), but more of one kind than before is a leak.
    const kinds = (snapshot) => {
      const counts = {};
      for (const timer of snapshot.timers.list ?? [])
        counts[timerKind(timer)] = (counts[timerKind(timer)] ?? 0) + 1;
      return counts;
    };
    const earlyKinds = minOver(early, kinds);
    const endKinds = minOver(end, kinds);
    const timerGrowth = Object.entries(endKinds)
      .filter(([kind, count]) => count > Math.max(earlyKinds[kind] ?? 0, 1))
      .map(([kind, count]) => ({ key: kind, early: earlyKinds[kind] ?? 0, end: count, judged: true }));
    for (const row of rows) row.judged = !row.key.startsWith('timers');
    const growth = [...rows.filter((row) => row.judged && row.end > row.early), ...timerGrowth];
    const warnings = end.at(-1).faults.warnings;
    const maxListeners = warnings.MaxListenersExceededWarning ?? 0;
    const heap = {
      early: Math.min(...early.map((x) => x.heap.used)),
      end: Math.min(...end.map((x) => x.heap.used)),
    };
    const earlyTimers = (early.at(-1).timers.list ?? []).map(describeTimer);
    const newTimers = (end.at(-1).timers.list ?? []).map(describeTimer).filter((timer) => {
      const index = earlyTimers.indexOf(timer);
      if (index === -1) return true;
      earlyTimers.splice(index, 1);
      return false;
    });
    const notClosed = Object.entries(end.at(-1).breakers)
      .filter(([, b]) => b.state !== 'closed')
      .map(([name, b]) => `${name} ${b.state}`);
    return {
      id: replica.id,
      ok: growth.length === 0 && maxListeners === 0,
      rows,
      growth,
      maxListeners,
      heap,
      notClosed,
      newTimers,
      timerGrowth,
      timersEnd: (end.at(-1).timers.list ?? []).map(describeTimer),
      loopDelayMaxMs: end.at(-1).loopDelayMaxMs,
    };
  });
}

const timerKind = (timer) =>
  `${timer.ref ? '' : "unref'd "}${timer.repeat ? 'interval' : 'timeout'}: ${timer.source}`;

const describeTimer = (timer) =>
  `${timer.ref ? '' : "unref'd "}${timer.repeat ? 'interval' : 'timeout'} of ${Math.round(timer.ms)} ms: ${timer.source}`;

export function percentile(values, count, p) {
  if (count === 0) return 0;
  const sorted = values.slice(0, count).sort();
  return sorted[Math.min(count - 1, Math.floor((p / 100) * count))];
}
