// Analysis of a finished fleet soak: the invariants, each with its measured figure, limit and failure,
// and the figures and reports of the result.
import {
  AGREEMENT_LIMIT_MS,
  CLIENT_LIMIT_MS,
  CALL_TIMEOUT_MS,
  LATENCY_SLACK_MS,
  RECONNECT_ALLOWANCE_MS,
  REPLICA_SHUTDOWN_MS,
} from './plan.mjs';
import { agreement, outages, percentile, recovery, resources, timelines } from './measures.mjs';
import { ms, renderMarkdown, renderSummary, sec } from './report.mjs';

export function analyse(run) {
  const lines = timelines(run);
  const windows = outages(run);
  const agree = agreement(run, lines, windows);
  const heals = recovery(run, lines);
  const leaks = resources(run);
  const r = run.requests;
  const limit = CALL_TIMEOUT_MS + LATENCY_SLACK_MS;

  const faults = run.replicas.map((replica) => {
    const f = replica.last?.faults ?? { unhandledRejections: 0, uncaughtExceptions: 0, samples: [] };
    return {
      id: replica.id,
      unhandledRejections: f.unhandledRejections,
      uncaughtExceptions: f.uncaughtExceptions,
      exitedEarly: replica.exitedEarly,
      samples: f.samples,
      lostTransitions: replica.lostTransitions,
      transitions: replica.transitions.length,
      served: replica.last?.served ?? null,
    };
  });
  const servedLate = faults.filter((f) => f.served?.over > 0);
  const servedOver = faults.reduce((sum, f) => sum + (f.served?.over ?? 0), 0);
  const servedByLoad = faults.reduce((sum, f) => sum + (f.served?.overByLoad ?? 0), 0);
  const servedCount = faults.reduce((sum, f) => sum + (f.served?.count ?? 0), 0);
  const servedMax = Math.max(0, ...faults.map((f) => f.served?.maxMs ?? 0));
  // The client's own figure also holds the time a request queued before its replica saw it, which on
  // one machine shared by runner, replicas, partner and Redis measures the machine: it is reported, and
  // only a request never answered fails here.
  const unanswered = r.total - r.answered;

  const worstAgree = agree.reduce((a, b) => (b.ms > a.ms ? b : a));
  const failedHeals = heals.flatMap((h) =>
    h.breakers
      .filter((b) => b.verdict === 'late' || b.verdict === 'never')
      .map((b) => ({ heal: h, breaker: b, overBy: b.worst - b.bound })),
  );
  const closeTimes = heals.flatMap((h) => h.breakers.map((b) => b.worst));
  const unhandled = faults.reduce((sum, f) => sum + f.unhandledRejections + f.uncaughtExceptions, 0);
  const died = faults.filter((f) => f.exitedEarly);
  const grown = leaks.filter((l) => !l.ok);
  const reconnectMissed = windows.filter((w) => !w.reconnected);
  const lost = faults.filter((f) => f.lostTransitions > 0);

  const invariants = [
    {
      id: 1,
      title: `replicas agree on every breaker's state within ${sec(AGREEMENT_LIMIT_MS)} of a change`,
      ok: agree.every((a) => a.ok) && reconnectMissed.length === 0 && lost.length === 0,
      measured: `max disagreement ${ms(worstAgree.ms)} (${worstAgree.name})`,
      limit: ms(AGREEMENT_LIMIT_MS),
      failure:
        (agree.every((a) => a.ok)
          ? ''
          : agree
              .filter((a) => !a.ok)
              .map(
                (a) =>
                  `${a.name} disagreed for ${ms(a.ms)} (${ms(a.ms - AGREEMENT_LIMIT_MS)} over the limit) from t+${sec(a.worst.from ?? a.polled.from)}` +
                  `${a.worst.states ? ` [${a.worst.states.join(', ')}]` : ''}${a.worst.unresolved ? ', still disagreeing at the end' : ''}`,
              )
              .join('; ')) +
        (reconnectMissed.length
          ? ` a replica's store was not connected ${sec(RECONNECT_ALLOWANCE_MS)} after a Redis restart`
          : '') +
        (lost.length
          ? ` the transition log is incomplete (${lost.map((f) => `${f.id} lost ${f.lostTransitions}`).join(', ')}), so agreement could not be checked throughout`
          : ''),
    },
    {
      id: 2,
      title: 'after the partner heals, every breaker closes within its open time plus one trial call',
      ok: failedHeals.length === 0,
      measured: `slowest close ${ms(Math.max(0, ...closeTimes))} after a heal`,
      limit: 'per breaker: callTimeout + open time + wait for the next request + callTimeout + 1 s',
      failure: failedHeals
        .map(({ heal, breaker }) =>
          breaker.verdict === 'never'
            ? `${breaker.name} after the heal at t+${sec(heal.at)} (${heal.level} traffic) was not closed on every replica ${sec(heal.end - heal.at)} later (bound ${ms(breaker.bound)}; ${breaker.replicas.map((x) => x.state ?? 'closed').join(', ')})`
            : `${breaker.name} after the heal at t+${sec(heal.at)} (${heal.level} traffic) closed in ${ms(breaker.worst)}, ${ms(breaker.worst - breaker.bound)} over its bound of ${ms(breaker.bound)}`,
        )
        .join('; '),
    },
    {
      id: 3,
      title: `no request hangs: every request answered, within callTimeout + ${LATENCY_SLACK_MS} ms (${limit} ms) of reaching its replica, less the time that replica's event loop stood still meanwhile`,
      ok: r.total > 0 && unanswered === 0 && servedLate.length === 0,
      measured:
        `${servedOver} of ${servedCount} over ${limit} ms at the replicas beyond their loops' stalls (max ${ms(servedMax)}; ${servedByLoad} more late only by as long as the loop stood still), ${unanswered} unanswered; ` +
        `at the client ${r.violations} over ${limit} ms (max ${ms(r.maxLatencyMs)})`,
      limit: `${ms(limit)} at the replica, less its loop's stalls; 0 unanswered`,
      failure:
        r.total === 0
          ? 'no request was sent'
          : [
              unanswered ? `${unanswered} requests got no answer within ${sec(CLIENT_LIMIT_MS)}` : '',
              servedLate.length
                ? `timed inside the replicas: ${servedLate.map((f) => `${f.id} ${f.served.over} over, max ${ms(f.served.maxMs)}`).join(', ')}`
                : '',
            ]
              .filter(Boolean)
              .join('; ') + ` (runner event-loop delay max ${ms(run.runnerLoopDelayMaxMs)})`,
    },
    {
      id: 4,
      title: 'no unhandled rejection or uncaught exception in any replica',
      ok: unhandled === 0 && died.length === 0,
      measured: `${unhandled} (${faults.map((f) => `${f.id}: ${f.unhandledRejections}+${f.uncaughtExceptions}`).join(', ')})`,
      limit: '0',
      failure: [
        unhandled ? `${unhandled} unhandled rejections/uncaught exceptions` : '',
        ...died.map(
          (f) =>
            `${f.id} died at t+${sec(f.exitedEarly.at - run.t0)} (${f.exitedEarly.code ?? f.exitedEarly.signal})`,
        ),
      ]
        .filter(Boolean)
        .join('; '),
    },
    {
      id: 5,
      title: 'no growth of handles, timers, sockets or listeners from the early checkpoint to the end',
      ok: grown.length === 0,
      measured:
        grown.length === 0
          ? 'no growth'
          : grown
              .map((l) =>
                l.missing
                  ? `${l.id}: no checkpoint`
                  : `${l.id}: ${[...l.growth.map((g) => `${g.key} ${g.early} → ${g.end}`), l.maxListeners ? 'MaxListenersExceededWarning' : ''].filter(Boolean).join(', ')}`,
              )
              .join('; '),
      limit: 'no growth',
      failure: grown
        .map((l) =>
          l.missing
            ? `${l.id}: a checkpoint snapshot is missing`
            : `${l.id}: ${l.growth.map((g) => `${g.key} grew by ${g.end - g.early} (${g.early} → ${g.end})`).join(', ')}${l.maxListeners ? ` MaxListenersExceededWarning ×${l.maxListeners}` : ''}${l.notClosed.length ? ` (not closed at the end: ${l.notClosed.join(', ')})` : ''}${l.newTimers.length && l.timerGrowth.length ? `; timers at the end that were not there early: ${l.newTimers.join(' | ')}` : ''}`,
        )
        .join('; '),
    },
    {
      id: 'S',
      title: `each replica exits by itself within ${sec(REPLICA_SHUTDOWN_MS)} of SIGTERM`,
      ok: run.shutdown.every((x) => x.ok),
      measured: run.shutdown.map((x) => `${x.id} ${x.ms === undefined ? x.detail : ms(x.ms)}`).join(', '),
      limit: sec(REPLICA_SHUTDOWN_MS),
      failure: run.shutdown
        .filter((x) => !x.ok)
        .map((x) => `${x.id} ${x.detail}${x.stderr?.length ? `: ${x.stderr.join(' | ')}` : ''}`)
        .join('; '),
    },
  ];
  const result = {
    ok: invariants.every((i) => i.ok),
    invariants,
    figures: {
      duration: run.duration,
      started: run.started,
      identity: run.identity,
      requests: {
        total: r.total,
        answered: r.answered,
        skipped: r.skipped,
        byStatus: r.byStatus,
        byRoute: r.byRoute,
        violations: r.violations,
        maxLatencyMs: r.maxLatencyMs,
        p50LatencyMs: percentile(r.latencies, r.latencyCount, 50),
        p99LatencyMs: percentile(r.latencies, r.latencyCount, 99),
        connects: r.connects,
        worst: r.worst,
        byPhase: run.plan.phases.map((p, i) => ({ name: p.name, from: p.from, to: p.to, ...r.byPhase[i] })),
      },
      faults: {
        partner: run.partner.modes.map(({ at, mode, heal }) => ({ at, mode, heal: Boolean(heal) })),
        partnerCalls: run.partner.calls,
        redisKills: run.redis.kills,
        redisRestarts: run.redis.restarts,
        pubsubKills: run.redis.pubsubKills,
        subscribers: run.redis.subscribers,
        outages: windows,
      },
      agreement: agree,
      heals,
      resources: leaks,
      replicaFaults: faults,
      shutdown: run.shutdown,
      polls: run.polls.length,
      pollErrors: run.pollErrors,
      lateActions: run.lateActions,
      runnerLoopDelayMaxMs: run.runnerLoopDelayMaxMs,
    },
  };
  result.summary = renderSummary(result);
  result.markdown = renderMarkdown(result);
  return result;
}
