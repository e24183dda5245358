// Analysis of a finished chaos run: each client's answer set against the fault the partner gave its
// request, the invariants with their measured figures, limits and failures, and the figures the reports
// show.
import { BODY_FAULTS, CALL_TIMEOUT_MS, GATEWAYS, LATENCY_SLACK_MS, TARGETS, targetName } from './plan.mjs';
import { resourceGrowth } from './leaks.mjs';
import { mb, renderMarkdown, renderSummary } from './report.mjs';

const LIMIT_MS = CALL_TIMEOUT_MS + LATENCY_SLACK_MS;
const SAMPLES_KEPT = 15;

export function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const bump = (counts, key, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/** What the client got, as one label: the status (and fallback reason), or how the exchange ended. */
function answerLabel(record) {
  if (record.outcome === 'abandoned') return 'hung up';
  if (record.status === 0)
    return record.outcome === 'no-answer' ? `no answer (${record.error ?? 'closed'})` : record.outcome;
  const status = record.fallback === undefined ? `${record.status}` : `${record.status} fallback`;
  return record.outcome === 'answered' ? status : `${status} ${record.outcome}`;
}

/** Why a request breaks invariant 1 (one answer per request), or undefined. */
function answerViolation(record, kind, faults) {
  switch (record.outcome) {
    case 'answered':
    case 'abandoned':
      return undefined;
    case 'truncated':
      // A proxy streams: when the partner dies after its head, the client's answer can only be cut short.
      if (kind === 'proxy' && faults.some((fault) => BODY_FAULTS.has(fault))) return undefined;
      return 'answer cut short';
    case 'no-answer':
      return `connection closed without a status line (${record.error ?? 'FIN'})`;
    case 'extra':
      return 'bytes after the answer';
    case 'hung':
      return record.status === 0 ? 'no answer' : 'answer never finished';
    default:
      return record.outcome;
  }
}

/** Whether a request shows the client a deadline missed: its status line, whole answer or silence. */
function lateness(record, kind) {
  if (['answered', 'truncated', 'extra'].includes(record.outcome) && record.headMs > LIMIT_MS)
    return record.headMs;
  if (kind === 'api' && record.outcome === 'answered' && record.totalMs > LIMIT_MS) return record.totalMs;
  const hungUp = record.hungUp;
  if (record.outcome === 'abandoned' && !hungUp.hadStatus && ['close', 'reset'].includes(hungUp.how)) {
    if (hungUp.afterMs > LIMIT_MS) return hungUp.afterMs;
  }
  if (record.outcome === 'hung' && record.status === 0) return record.totalMs;
  return undefined;
}

export function analyse(run) {
  const given = run.given;
  const lateAtGateway = new Map();
  const gatewayLate = { library: 0, load: 0, samples: [] };
  for (const name of GATEWAYS) {
    for (const [kind, stats] of Object.entries(run.gateways[name].last?.served ?? {})) {
      gatewayLate.library += stats.late.library;
      gatewayLate.load += stats.late.load;
      for (const sample of stats.late.samples) {
        if (sample.id !== null) lateAtGateway.set(`${name} ${kind} ${sample.id}`, sample);
        if (sample.byLibrary && gatewayLate.samples.length < SAMPLES_KEPT)
          gatewayLate.samples.push({ gateway: name, kind, ...sample });
      }
    }
  }

  const targets = TARGETS.map((target) => ({
    name: targetName(target),
    sent: 0,
    outcomes: {},
    answers: {},
    heads: [],
    byFault: {},
  }));
  const violations = { count: 0, groups: {}, samples: [] };
  const late = { count: 0, byCause: {}, samples: [] };
  let leaks = 0;
  const byId = new Map(run.records.map((record) => [record.id, record]));
  for (const sample of gatewayLate.samples) {
    const record = sample.id === null ? undefined : byId.get(sample.id);
    if (record === undefined) continue;
    sample.partner = [given.get(record.id) ?? []].flat().join(' + ') || 'not called';
    sample.phase = run.phases[record.phase]?.mode;
    sample.client = `${record.outcome} ${record.status}${record.fallback ? ` fallback ${record.fallback}` : ''}`;
  }
  for (const record of run.records) {
    if (record.outcome === undefined) continue;
    const target = TARGETS[record.target];
    const stats = targets[record.target];
    const names = [given.get(record.id) ?? []].flat();
    stats.sent++;
    bump(stats.outcomes, record.outcome);
    const label = answerLabel(record);
    bump(stats.answers, label);
    const faultKey = names.length === 0 ? 'not called' : names.join(' + ');
    bump((stats.byFault[faultKey] ??= {}), label);
    if (record.headMs !== null && record.outcome !== 'abandoned') stats.heads.push(record.headMs);
    if (record.leak) leaks++;

    const violation = answerViolation(record, target.kind, names);
    if (violation !== undefined) {
      violations.count++;
      bump(violations.groups, `${stats.name}: ${violation}; partner: ${faultKey}`);
      if (violations.samples.length < SAMPLES_KEPT) {
        const phase = run.phases[record.phase];
        const atGateway = lateAtGateway.get(`${target.gateway} ${target.kind} ${record.id}`);
        violations.samples.push({
          target: stats.name,
          id: record.id,
          violation,
          partner: faultKey,
          phase: phase?.mode,
          atGateway,
          connectMs: record.connectMs,
        });
      }
    }
    const ms = lateness(record, target.kind);
    if (ms !== undefined) {
      late.count++;
      const atGateway = lateAtGateway.get(`${target.gateway} ${target.kind} ${record.id}`);
      const cause =
        atGateway === undefined
          ? 'in time at the gateway: network or runner load'
          : atGateway.byLibrary
            ? 'late at the gateway beyond its loop stalls'
            : "late at the gateway within its loop's stalls: machine load";
      bump(late.byCause, cause);
      if (late.samples.length < SAMPLES_KEPT) {
        late.samples.push({
          target: stats.name,
          id: record.id,
          ms: Math.round(ms),
          partner: faultKey,
          cause,
          gateway: atGateway,
        });
      }
    }
  }
  for (const stats of targets) {
    stats.heads.sort((a, b) => a - b);
    stats.latency = {
      p50: percentile(stats.heads, 50),
      p99: percentile(stats.heads, 99),
      max: stats.heads.at(-1) ?? 0,
    };
    delete stats.heads;
  }

  const doubleHeads = GATEWAYS.reduce(
    (sum, name) =>
      sum + Object.values(run.gateways[name].last?.served ?? {}).reduce((s, k) => s + k.doubleHeads, 0),
    0,
  );
  const faults = GATEWAYS.map((name) => {
    const g = run.gateways[name];
    const f = g.last?.faults ?? {
      unhandledRejections: NaN,
      uncaughtExceptions: NaN,
      samples: [],
      counts: {},
    };
    return { name, ...f, exitedEarly: g.exitedEarly };
  });
  const unhandled = faults.reduce((sum, f) => sum + f.unhandledRejections + f.uncaughtExceptions, 0);
  const died = faults.filter((f) => f.exitedEarly);
  const growth = resourceGrowth(GATEWAYS, run.checkpoints);
  const fuzz = run.fuzz;
  const fuzzLeaks = Object.entries(fuzz?.byVerdict ?? {})
    .filter(([verdict]) => verdict.includes('marker'))
    .reduce((sum, [, n]) => sum + n, 0);
  const badShutdown = run.shutdown.filter((s) => !s.ok);
  const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);

  const invariants = [
    {
      id: 1,
      title: 'every request gets exactly one answer, or was abandoned by its client',
      ok: violations.count === 0 && doubleHeads === 0,
      measured: `${violations.count} of ${run.records.length} requests without a proper answer; ${doubleHeads} double heads`,
      limit: '0',
      failure: Object.entries(violations.groups)
        .sort((a, b) => b[1] - a[1])
        .map(([group, n]) => `${n} × ${group}`)
        .join('; '),
    },
    {
      id: 2,
      title: `no answer comes later than callTimeout + ${LATENCY_SLACK_MS} ms (${LIMIT_MS} ms), timed at the gateway`,
      ok: gatewayLate.library === 0,
      measured: `${gatewayLate.library} late at the gateways beyond their loop stalls (${gatewayLate.load} late within them); ${late.count} late at the clients`,
      limit: '0 beyond the loop stalls',
      failure:
        gatewayLate.library === 0
          ? ''
          : gatewayLate.samples
              .map(
                (s) =>
                  `${s.gateway} ${s.kind} #${s.id ?? s.path}: ${s.ms} ms (loop stalled ${s.lagMs} ms in all, status ${s.status ?? 'none'}; partner ${s.partner ?? '?'} in phase ${s.phase ?? '?'}; client saw ${s.client ?? '?'})`,
              )
              .join('; '),
    },
    {
      id: 3,
      title: 'no unhandled rejection or exception, and no gateway died',
      ok: unhandled === 0 && died.length === 0,
      measured: `${unhandled} unhandled; ${died.length} gateways died`,
      limit: '0',
      failure: [
        ...faults.flatMap((f) =>
          f.samples
            .filter((s) => s.kind !== 'warning')
            .map((s) => `${f.name}: ${s.message.split('\n').slice(0, 3).join(' | ')}`),
        ),
        ...died.map((f) => `${f.name} exited (${f.exitedEarly.code ?? f.exitedEarly.signal})`),
      ].join('; '),
    },
    {
      id: 4,
      title: "the partner's text (its marker) never reaches a client",
      ok: leaks === 0 && fuzzLeaks === 0,
      measured: `${leaks} answers to traffic and ${fuzzLeaks} to fuzz cases held the marker`,
      limit: '0',
      failure: run.samples.leaks.map((s) => `#${s.id} (${s.status}): ${s.excerpt}`).join('; '),
    },
    {
      id: 5,
      title: 'no growth of handles, timers, listeners, breakers or heap from the early checkpoint to the end',
      ok: growth.every((g) => g.ok),
      measured: growth
        .map(
          (g) => `${g.name}: ${g.growth.length} figures grew, heap ${mb(g.heap?.early)} → ${mb(g.heap?.end)}`,
        )
        .join('; '),
      limit: 'no growth; heap within the larger of 4 MB and 15 %',
      failure: growth
        .filter((g) => !g.ok)
        .map((g) =>
          g.missing
            ? `${g.name}: a checkpoint is missing`
            : `${g.name}: ${[...g.growth.map((r) => `${r.key} ${r.early} → ${r.end}`), g.heap.end > g.heap.limit ? `heap ${mb(g.heap.early)} → ${mb(g.heap.end)}` : '', g.maxListeners ? `${g.maxListeners} MaxListenersExceededWarning` : ''].filter(Boolean).join(', ')}`,
        )
        .join('; '),
    },
    {
      id: 6,
      title: 'every fuzz case ends in well-formed answers (never a 500 or a stack) or a clean close, in time',
      ok: fuzz !== null && fuzz.failed === 0 && fuzz.cases === run.fuzzCases,
      measured:
        fuzz === null ? 'not run' : `${fuzz.failed} of ${fuzz.cases} cases failed (seed ${fuzz.seed})`,
      limit: `0 of ${run.fuzzCases}`,
      failure:
        fuzz === null
          ? 'the fuzz did not run'
          : fuzz.failures
              .map((f) => `case ${f.index} (${f.gateway}): ${f.verdict}; request ${f.request}`)
              .join('; '),
    },
    {
      id: 'S',
      title: 'each gateway shuts down cleanly and promptly on SIGTERM',
      ok: badShutdown.length === 0,
      measured: run.shutdown.map((s) => `${s.name} ${s.detail}`).join('; '),
      limit: 'exit code 0',
      failure: badShutdown.map((s) => `${s.name}: ${s.detail} ${s.stderr?.join(' | ') ?? ''}`).join('; '),
    },
  ];

  const figures = {
    seed: run.seed,
    marker: run.marker,
    duration: run.duration,
    started: run.started,
    identity: run.identity,
    elapsedMs: run.elapsedMs,
    machine: run.machine,
    requests: {
      sent: run.records.length,
      skipped: run.skipped,
      outcomes: targets.reduce((all, t) => {
        for (const [k, v] of Object.entries(t.outcomes)) bump(all, k, v);
        return all;
      }, {}),
    },
    targets,
    phases: run.phases.reduce((counts, p) => (bump(counts, p.mode), counts), {}),
    partner: run.partnerStats,
    partnerCalls: run.partnerStats ? sum(run.partnerStats.calls.byFault) : 0,
    violations,
    late,
    gatewayLate,
    gatewayFaults: faults,
    served: Object.fromEntries(GATEWAYS.map((name) => [name, run.gateways[name].last?.served ?? {}])),
    loopDelayMaxMs: Object.fromEntries(
      GATEWAYS.map((name) => [name, run.gateways[name].last?.loopDelayMaxMs]),
    ),
    runnerLoopDelayMaxMs: run.runnerLoopDelayMaxMs,
    growth,
    fuzz,
    broken: run.samples.broken,
    shutdown: run.shutdown,
  };
  const result = { ok: invariants.every((i) => i.ok), invariants, figures };
  result.summary = renderSummary(result);
  result.markdown = renderMarkdown(result);
  return result;
}
