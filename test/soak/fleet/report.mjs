// Reports of a fleet soak: the console summary and the Markdown report with a table per invariant.
import {
  AGREEMENT_LIMIT_MS,
  CALL_TIMEOUT_MS,
  CLIENT_LIMIT_MS,
  LATENCY_SLACK_MS,
  POLL_MS,
  PROPAGATION_ALLOWANCE_MS,
  RECONNECT_ALLOWANCE_MS,
} from './plan.mjs';

export const ms = (value) => (value === null || value === undefined ? '-' : `${Math.round(value)} ms`);
export const sec = (value) => `${(value / 1_000).toFixed(1)} s`;

const statusLine = (byStatus) =>
  Object.entries(byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${status} ×${count}`)
    .join(', ') || '-';

export function renderSummary(result) {
  const f = result.figures;
  const out = [];
  out.push(
    `Fleet soak: ${f.duration} s, ${f.requests.total} requests (${statusLine(f.requests.byStatus)}), ` +
      `p50 ${ms(f.requests.p50LatencyMs)}, p99 ${ms(f.requests.p99LatencyMs)}, max ${ms(f.requests.maxLatencyMs)}`,
  );
  out.push(
    `Faults: partner ${f.faults.partner.filter((p) => !p.heal).length} flaps, Redis SIGKILL+restart ×${f.faults.redisKills.length}` +
      ` (excluded from invariant 1: ${f.faults.outages.map((w) => `t+${sec(w.from)}–${sec(w.to)}`).join(', ') || 'none'}),` +
      ` CLIENT KILL TYPE pubsub ×${f.faults.pubsubKills.length} (${f.faults.pubsubKills.map((k) => `${k.killed} clients`).join(', ')})`,
  );
  out.push(
    `Subscribers Redis counted after each fault: ${
      f.faults.subscribers
        .map(
          (x) =>
            `${x.after} at t+${sec(x.at)}: ${x.counts.error ?? (Object.values(x.counts).reduce((a, b) => a + b, 0) || 0)}`,
        )
        .join(', ') || '-'
    } (one per replica is ${f.resources.length})`,
  );
  for (const inv of result.invariants) {
    out.push(`  (${inv.id}) ${inv.ok ? 'PASS' : 'FAIL'}  ${inv.title}: ${inv.measured}`);
    if (!inv.ok && inv.failure) out.push(`        ${inv.failure}`);
  }
  out.push(
    result.ok
      ? 'Every invariant held.'
      : `FAILED: invariant ${result.invariants
          .filter((i) => !i.ok)
          .map((i) => i.id)
          .join(', ')}`,
  );
  return out.join('\n');
}

function table(columns, rows) {
  const esc = (v) => String(v).replaceAll('|', '\\|');
  return [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function renderMarkdown(result) {
  const f = result.figures;
  const id = f.identity;
  const md = [];
  md.push('# Fleet soak results', '');
  md.push(
    `Run of ${f.duration} s started ${f.started}: ${f.resources.length} replicas (Express 5, one \`BreakerRegistry\`, one \`RedisStore\` each) ` +
      `on a private \`redis-server\`, in front of one flapping partner. Packages from \`${id.packages}\` at commit \`${id.commit}\` ` +
      `(dist sha256: core \`${id.core}\`, redis \`${id.redis}\`, express \`${id.express}\`; uncommitted changes are included).`,
    '',
  );
  md.push(
    `**Verdict: ${
      result.ok
        ? 'every invariant held'
        : `FAILED (invariant ${result.invariants
            .filter((i) => !i.ok)
            .map((i) => i.id)
            .join(', ')})`
    }.**`,
    '',
  );
  md.push(
    table(
      ['#', 'invariant', 'measured', 'limit', 'verdict'],
      result.invariants.map((i) => [
        i.id,
        i.title,
        i.measured,
        i.limit,
        i.ok ? 'pass' : `**FAIL**: ${i.failure}`,
      ]),
    ),
    '',
  );

  md.push('## Requests', '');
  md.push(
    `${f.requests.total} requests, ${f.requests.answered} answered, ${f.requests.skipped} not sent (in-flight or count cap). ` +
      `Latency p50 ${ms(f.requests.p50LatencyMs)}, p99 ${ms(f.requests.p99LatencyMs)}, max ${ms(f.requests.maxLatencyMs)}. ` +
      `Runner event-loop delay max ${ms(f.runnerLoopDelayMaxMs)}. Connections opened by the runner: ` +
      (Object.entries(f.requests.connects)
        .map(([id, c]) => `${id} ${c.count} (slowest set-up ${ms(c.maxMs)}, ${c.over100ms} over 100 ms)`)
        .join(', ') || 'none') +
      '.',
    '',
  );
  md.push(
    table(
      ['route', 'requests', 'answers'],
      Object.entries(f.requests.byRoute).map(([name, x]) => [name, x.total, statusLine(x.byStatus)]),
    ),
    '',
  );
  md.push(
    table(
      ['phase', 'from', 'to', 'requests', 'answers', 'max latency'],
      f.requests.byPhase.map((p) => [
        p.name,
        sec(p.from),
        sec(p.to),
        p.total,
        statusLine(p.byStatus),
        ms(p.maxLatencyMs),
      ]),
    ),
    '',
  );
  if (f.requests.worst.length) {
    md.push('Slowest late or unanswered requests:', '');
    md.push(
      table(
        ['sent at', 'replica', 'path', 'answer', 'latency'],
        f.requests.worst.map((w) => [`t+${sec(w.at)}`, w.replica, w.path, w.status, ms(w.latency)]),
      ),
      '',
    );
  }

  md.push('## Faults injected', '');
  md.push(
    table(
      ['t', 'fault'],
      [
        ...f.faults.partner.map((p) => [
          p.at,
          p.heal ? 'partner healed (200s)' : p.mode === 'error' ? 'partner answers 500s' : 'partner hangs',
        ]),
        ...f.faults.redisKills.map((k) => [k.at, 'Redis SIGKILL']),
        ...f.faults.redisRestarts.map((k) => [k.at, 'Redis restarted empty, same port']),
        ...f.faults.pubsubKills.map((k) => [k.at, `CLIENT KILL TYPE pubsub (${k.killed} clients killed)`]),
        ...f.faults.subscribers.map((x) => [
          x.at,
          `(check) pub/sub subscribers after the ${x.after}, as Redis counts them: ${
            x.counts.error ??
            (Object.entries(x.counts)
              .map(([channel, n]) => `${channel} ×${n}`)
              .join(', ') ||
              'none')
          }`,
        ]),
      ]
        .sort((a, b) => a[0] - b[0])
        .map(([at, what]) => [`t+${sec(at)}`, what]),
    ),
    '',
  );
  if (f.faults.partnerCalls) {
    md.push(
      `Partner calls by its mode: ${Object.entries(f.faults.partnerCalls)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
      '',
    );
  }
  md.push(
    'Redis outages (excluded from invariant 1, from the kill until every replica reports its store connected, at most ' +
      `${sec(RECONNECT_ALLOWANCE_MS)} after the restart): ` +
      (f.faults.outages
        .map(
          (w) =>
            `t+${sec(w.from)} to t+${sec(w.to)} (restart at t+${sec(w.restart)}${w.reconnected ? '' : ', a replica did not reconnect'})`,
        )
        .join('; ') || 'none') +
      '.',
    '',
  );

  md.push('## (1) Agreement between replicas', '');
  md.push(
    'Longest time, per breaker, during which the replicas that hold it reported different states, from their ' +
      `logged state changes (wall clock, same host) and, as a lower bound, from polls of \`/_state\` every ${POLL_MS} ms. ` +
      'Redis outages are left out.',
    '',
  );
  md.push(
    table(
      [
        'breaker',
        'max (logs)',
        'max (polls)',
        'worst from',
        'states then',
        'episodes',
        `over ${ms(AGREEMENT_LIMIT_MS)}`,
        'verdict',
      ],
      f.agreement.map((a) => [
        a.name,
        ms(a.worst.ms),
        ms(a.polled.ms),
        a.worst.from === undefined
          ? '-'
          : `t+${sec(a.worst.from)}${a.worst.unresolved ? ' (unresolved)' : ''}`,
        a.worst.states?.join(', ') ?? '-',
        a.episodes,
        a.over,
        a.ok ? 'pass' : '**FAIL**',
      ]),
    ),
    '',
  );

  md.push('## (2) Closing after the partner heals', '');
  md.push(
    `Time from the heal until the breaker is closed (and stays closed) on every replica. Bound: callTimeout (${CALL_TIMEOUT_MS} ms, ` +
      "a trial in flight at the heal) + the breaker's open time + the wait for the next request to that breaker + callTimeout (the " +
      `trial) + ${ms(PROPAGATION_ALLOWANCE_MS)} to reach every replica.`,
    '',
  );
  md.push(
    table(
      [
        'heal',
        'traffic',
        'breaker',
        'tripped',
        'wait for a request',
        'bound',
        'closed after (slowest replica)',
        'verdict',
      ],
      f.heals.flatMap((h) =>
        h.breakers.map((b) => [
          `t+${sec(h.at)}`,
          h.level,
          b.name,
          b.tripped ? 'yes' : 'no',
          ms(b.gap),
          ms(b.bound),
          b.allClosed
            ? ms(b.worst)
            : `not closed after ${ms(b.worst)} (${b.replicas.map((x) => x.state ?? 'closed').join(', ')})`,
          b.verdict === 'ok'
            ? 'pass'
            : b.verdict === 'late' || b.verdict === 'never'
              ? '**FAIL**'
              : b.verdict,
        ]),
      ),
    ),
    '',
  );

  md.push('## (3) Deadlines', '');
  md.push(
    `${f.requests.violations} of ${f.requests.total} requests were answered later than ${CALL_TIMEOUT_MS + LATENCY_SLACK_MS} ms or not at all ` +
      `(client limit ${sec(CLIENT_LIMIT_MS)}), timed by the runner from sending to the end of the body.`,
    '',
  );

  md.push(
    table(
      [
        'replica',
        'requests served',
        `served in over ${CALL_TIMEOUT_MS + LATENCY_SLACK_MS} ms`,
        'slowest served',
        'event-loop delay max',
      ],
      f.replicaFaults.map((x) => [
        x.id,
        x.served?.count ?? '-',
        x.served?.over ?? '-',
        ms(x.served?.maxMs),
        ms(f.resources.find((l) => l.id === x.id)?.loopDelayMaxMs),
      ]),
    ),
    '',
  );

  md.push('## (4) Unhandled errors', '');
  md.push(
    table(
      ['replica', 'unhandled rejections', 'uncaught exceptions', 'died', 'first'],
      f.replicaFaults.map((x) => [
        x.id,
        x.unhandledRejections,
        x.uncaughtExceptions,
        x.exitedEarly ? `at t+${sec(x.exitedEarly.at)}` : 'no',
        x.samples[0]?.message.split('\n')[0] ?? '-',
      ]),
    ),
    '',
  );

  md.push('## (5) Resources', '');
  md.push(
    'Each replica at the early checkpoint (after the warm-up and a quiet period) and at the end (after a quiet period), ' +
      "the minimum of three samples 250 ms apart. Handles from `process.getActiveResourcesInfo()`. Timers, unref'd ones " +
      'included, are counted by the replica and judged kind by kind (by their callback): more of one kind at the end than ' +
      'early, and more than one, is growth; the totals are for information, since a periodic timer may be between two ' +
      'runs at a checkpoint. Heap after a forced GC, for information.',
    '',
  );
  for (const l of f.resources) {
    if (l.missing) {
      md.push(`${l.id}: a checkpoint is missing.`, '');
      continue;
    }
    md.push(
      `**${l.id}**: heap ${(l.heap.early / 1e6).toFixed(1)} MB → ${(l.heap.end / 1e6).toFixed(1)} MB; event-loop delay max ${ms(l.loopDelayMaxMs)}` +
        `${l.notClosed.length ? `; not closed at the end: ${l.notClosed.join(', ')}` : ''}.`,
      '',
    );
    md.push(
      table(
        ['resource', 'early', 'end', ''],
        [...l.rows, ...l.growth.filter((g) => !l.rows.includes(g))].map((row) => [
          row.key,
          row.early,
          row.end,
          row.end > row.early ? (l.growth.includes(row) ? '**grew**' : 'more; judged by kind') : '',
        ]),
      ),
      '',
    );
    if (l.timersEnd.length) {
      md.push(`Timers live at the end: ${l.timersEnd.map((t) => `\`${t}\``).join('; ')}.`, '');
    }
  }

  md.push('## Shutdown', '');
  md.push(
    table(
      ['replica', 'after SIGTERM'],
      f.shutdown.map((x) => [x.id, x.detail]),
    ),
    '',
  );
  md.push(
    `Polls: ${f.polls} (${f.pollErrors} failed); state changes logged: ${f.replicaFaults
      .map((x) => `${x.id} ${x.transitions}${x.lostTransitions ? ` (${x.lostTransitions} lost)` : ''}`)
      .join(', ')}. ` +
      (f.lateActions.length
        ? `Actions run late: ${f.lateActions.map((a) => `${a.type} at t+${sec(a.at)} by ${ms(a.lateMs)}`).join(', ')}.`
        : 'Every action ran on time.'),
    '',
  );
  return md.join('\n');
}
