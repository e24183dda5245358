// Growth of each gateway's resources between the early checkpoint (after the warm-up) and the end one
// (after the faults and the fuzz), each taken after a GC in a quiet moment: handles by type, timers by
// kind, listeners, breakers, and heap. Each figure is the least of the checkpoint's samples, so that a
// request or timer that happened to be passing does not count as growth.

/** Heap may grow by this much between the checkpoints: the larger of an absolute and a relative bound. */
export const HEAP_GROWTH_LIMIT = { bytes: 4 * 1024 * 1024, share: 0.15 };

function minOver(snapshots, pick) {
  const values = snapshots.map(pick);
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
  out['registry listeners'] = snapshot.registry.registryListeners;
  out['breaker listeners'] = snapshot.registry.breakerListeners;
  out.breakers = snapshot.registry.breakers;
  return out;
}

const timerKind = (timer) =>
  `${timer.ref ? '' : "unref'd "}${timer.repeat ? 'interval' : 'timeout'}: ${timer.source}`;

const describeTimer = (timer) =>
  `${timer.ref ? '' : "unref'd "}${timer.repeat ? 'interval' : 'timeout'} of ${Math.round(timer.ms)} ms: ${timer.source}`;

const kinds = (snapshot) => {
  const counts = {};
  for (const timer of snapshot.timers.list ?? [])
    counts[timerKind(timer)] = (counts[timerKind(timer)] ?? 0) + 1;
  return counts;
};

/** One verdict per gateway; `checkpoints` holds { early, end }, each a list of { snapshots: { name: state } }. */
export function resourceGrowth(gateways, checkpoints) {
  return gateways.map((name) => {
    const early = checkpoints.early.map((c) => c.snapshots[name]).filter(Boolean);
    const end = checkpoints.end.map((c) => c.snapshots[name]).filter(Boolean);
    if (early.length === 0 || end.length === 0)
      return { name, ok: false, missing: true, growth: [], rows: [] };
    const a = minOver(early, flatten);
    const b = minOver(end, flatten);
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    const rows = keys.map((key) => ({
      key,
      early: a[key] ?? 0,
      end: b[key] ?? 0,
      judged: !key.startsWith('timers'),
    }));
    // Timers are judged kind by kind: one periodic timer that is there at the end may have started late
    // (or been between two runs early), but more of one kind than before is a leak.
    const earlyKinds = minOver(early, kinds);
    const endKinds = minOver(end, kinds);
    const timerGrowth = Object.entries(endKinds)
      .filter(([kind, count]) => count > Math.max(earlyKinds[kind] ?? 0, 1))
      .map(([kind, count]) => ({ key: kind, early: earlyKinds[kind] ?? 0, end: count, judged: true }));
    const growth = [...rows.filter((row) => row.judged && row.end > row.early), ...timerGrowth];
    const heap = {
      early: Math.min(...early.map((x) => x.heap.used)),
      end: Math.min(...end.map((x) => x.heap.used)),
    };
    heap.limit = heap.early + Math.max(HEAP_GROWTH_LIMIT.bytes, heap.early * HEAP_GROWTH_LIMIT.share);
    const maxListeners = end.at(-1).faults.warnings.MaxListenersExceededWarning ?? 0;
    const earlyTimers = (early.at(-1).timers.list ?? []).map(describeTimer);
    const newTimers = (end.at(-1).timers.list ?? []).map(describeTimer).filter((timer) => {
      const index = earlyTimers.indexOf(timer);
      if (index === -1) return true;
      earlyTimers.splice(index, 1);
      return false;
    });
    return {
      name,
      ok: growth.length === 0 && maxListeners === 0 && heap.end <= heap.limit,
      rows,
      growth,
      heap,
      maxListeners,
      newTimers,
      states: end.at(-1).registry.states,
    };
  });
}
