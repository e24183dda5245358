// Reports of a chaos run: a short summary for the terminal and the full Markdown written to RESULTS.md.
import {
  CALL_TIMEOUT_MS,
  FAULTS,
  HANGUP_SHARE,
  LATENCY_SLACK_MS,
  RATE_PER_TARGET,
  TARGETS,
  targetName,
} from './plan.mjs';

export const mb = (bytes) => (bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);
const ms = (value) => `${Math.round(value)} ms`;
const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const counts = (map, limit = 8) => {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  const shown = entries.slice(0, limit).map(([key, n]) => `${key} × ${n}`);
  if (entries.length > limit) shown.push(`${entries.length - limit} more`);
  return shown.join(', ') || '-';
};

export function renderSummary(result) {
  const f = result.figures;
  const lines = [
    `chaos run: ${f.duration} s, seed ${f.seed}, ${f.requests.sent} requests (${counts(f.requests.outcomes)}), ` +
      `${f.partnerCalls} partner calls, ${f.fuzz?.cases ?? 0} fuzz cases, ${(f.elapsedMs / 1_000).toFixed(1)} s in all`,
  ];
  for (const invariant of result.invariants) {
    lines.push(
      `  ${invariant.ok ? 'ok  ' : 'FAIL'} (${invariant.id}) ${invariant.title}: ${invariant.measured}`,
    );
    if (!invariant.ok) lines.push(`         ${invariant.failure.slice(0, 2_000)}`);
  }
  return lines.join('\n');
}

function table(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

function invariantsSection(result) {
  const rows = result.invariants.map((i) => [
    i.id,
    i.title,
    i.ok ? 'held' : '**failed**',
    i.measured,
    i.limit,
  ]);
  const failures = result.invariants
    .filter((i) => !i.ok)
    .map((i) => `- (${i.id}) ${cell(i.failure).slice(0, 3_000)}`);
  return [
    '## Invariants',
    '',
    table(['#', 'Invariant', 'Verdict', 'Measured', 'Limit'], rows),
    '',
    ...failures,
  ];
}

function trafficSection(f) {
  const rows = f.targets.map((t) => [
    t.name,
    t.sent,
    counts(t.answers, 10),
    `${ms(t.latency.p50)} / ${ms(t.latency.p99)} / ${ms(t.latency.max)}`,
  ]);
  return [
    '## Traffic',
    '',
    `${f.requests.sent} requests (${f.requests.skipped} not sent: too many in flight), ` +
      `${RATE_PER_TARGET} a second to each of the four targets while traffic flowed; ` +
      `${Math.round(HANGUP_SHARE * 100)} % of the clients hung up at a random moment. ` +
      `Outcomes: ${counts(f.requests.outcomes)}.`,
    '',
    'Answers by target: a status is a whole answer; "cut short" is a status line and part of a body; ' +
      '"hung up" is a client that left first; "fallback" is the Koa middleware\'s stale answer.',
    '',
    table(['Target', 'Requests', 'Answers', 'Time to status line p50 / p99 / max'], rows),
  ];
}

function faultsSection(f) {
  const faults = ['not called', 'ok', ...FAULTS];
  const seen = new Set(f.targets.flatMap((t) => Object.keys(t.byFault)));
  const keys = [...faults.filter((k) => seen.has(k)), ...[...seen].filter((k) => !faults.includes(k)).sort()];
  const rows = keys.map((key) => [key, ...f.targets.map((t) => counts(t.byFault[key] ?? {}, 5))]);
  return [
    '## Faults',
    '',
    `Partner phases by mode: ${counts(f.phases, 20)}. Partner calls by what they got: ` +
      `${counts(f.partner?.calls.byFault ?? {}, 20)}; ${f.partner?.calls.relistenFailures ?? 0} failed attempts ` +
      'to open the port again after `refused`.',
    '',
    'Answers by what the partner did to the request ("not called": the breaker or bulkhead answered; a ' +
      'retried request lists each try):',
    '',
    table(['Partner', ...TARGETS.map(targetName)], rows),
  ];
}

function deadlinesSection(f) {
  const rows = [];
  for (const [gateway, kinds] of Object.entries(f.served)) {
    for (const [kind, s] of Object.entries(kinds)) {
      rows.push([
        `${gateway} ${kind}`,
        s.count,
        ms(s.headerMax),
        s.late.library,
        s.late.load,
        s.unanswered,
        counts(s.byStatus, 8),
      ]);
    }
  }
  const loops = Object.entries(f.loopDelayMaxMs)
    .map(([name, value]) => `${name} ${ms(value ?? 0)}`)
    .join(', ');
  return [
    '## Deadlines',
    '',
    `callTimeout is ${CALL_TIMEOUT_MS} ms; an answer may come ${LATENCY_SLACK_MS} ms after it. Each gateway times ` +
      'its requests from their arrival to their status line (or to their close, unanswered), and sets a late ' +
      "one against its event loop's stalls meanwhile, added up: late beyond them is the library's doing. " +
      '`other` is the fuzz. Longest event-loop stalls: ' +
      `${loops}; the runner's: ${ms(f.runnerLoopDelayMaxMs)}.`,
    '',
    table(
      [
        'Gateway, kind',
        'Requests',
        'Slowest status line',
        'Late beyond the stalls',
        'Late within them',
        'Unanswered',
        'Statuses',
      ],
      rows,
    ),
    '',
    `At the clients: ${f.late.count} late (${counts(f.late.byCause)}).`,
  ];
}

function leaksSection(f) {
  const out = ['## Leaks', ''];
  for (const g of f.growth) {
    if (g.missing) {
      out.push(`- ${g.name}: a checkpoint is missing.`);
      continue;
    }
    const grown =
      g.growth.length === 0 ? 'none' : g.growth.map((r) => `${r.key} ${r.early} → ${r.end}`).join(', ');
    out.push(
      `- **${g.name}**: growth: ${grown}; heap ${mb(g.heap.early)} → ${mb(g.heap.end)} (limit ${mb(g.heap.limit)}); ` +
        `breakers at the end: ${counts(g.states)}; timers new since the early checkpoint: ` +
        `${g.newTimers.length === 0 ? 'none' : g.newTimers.map(cell).join('; ')}`,
    );
  }
  const rows = [];
  for (const g of f.growth) for (const r of g.rows ?? []) rows.push([g.name, r.key, r.early, r.end]);
  out.push('', table(['Gateway', 'Figure', 'Early', 'End'], rows));
  return out;
}

function fuzzSection(f) {
  const z = f.fuzz;
  if (z === null) return ['## Fuzz', '', 'Not run.'];
  const out = [
    '## Fuzz',
    '',
    `${z.cases} cases, seed ${z.seed}, in ${(z.durationMs / 1_000).toFixed(1)} s (slowest case ${ms(z.maxCaseMs)}), ` +
      'half to each proxy: random bytes in the method, the request target, the version and the headers, ' +
      'sometimes a body. What they came to (statuses of the answers, or the close):',
    '',
    table(
      ['Verdict', 'Cases'],
      Object.entries(z.byVerdict).sort((a, b) => b[1] - a[1]),
    ),
  ];
  if (z.failures.length > 0) {
    out.push('', 'Failed cases (each is case `index` of the seed, sent as these bytes):', '');
    for (const x of z.failures)
      out.push(`- case ${x.index} to ${x.gateway}: ${x.verdict}; request ${x.request}; answer ${x.answer}`);
  }
  return out;
}

function samplesSection(f) {
  const out = [];
  if (f.violations.samples.length > 0) {
    const seen = (g) =>
      g === undefined
        ? 'in time, or never'
        : `${g.status ?? 'no answer'} after ${ms(g.ms)}, loop stalled ${ms(g.lagMs)}`;
    out.push(
      '## Requests without a proper answer',
      '',
      table(
        ['Target', 'Request', 'What happened', 'Partner', 'Phase', 'Connected after', 'At the gateway'],
        f.violations.samples.map((s) => [
          s.target,
          s.id,
          s.violation,
          s.partner,
          s.phase ?? '-',
          s.connectMs === undefined ? 'at once' : s.connectMs === null ? 'never' : ms(s.connectMs),
          seen(s.atGateway),
        ]),
      ),
    );
    out.push('', `All of them: ${counts(f.violations.groups, 30)}.`);
  }
  if (f.broken.length > 0) {
    out.push('', 'What those clients received:', '');
    for (const b of f.broken) out.push(`- #${b.id} ${b.outcome} ${b.parseError}: ${b.raw}`);
  }
  if (f.late.samples.length > 0) {
    out.push(
      '',
      '## Late at the clients (samples)',
      '',
      table(
        ['Target', 'Request', 'Time', 'Partner', 'Cause'],
        f.late.samples.map((s) => [s.target, s.id, ms(s.ms), s.partner, s.cause]),
      ),
    );
  }
  return out;
}

export function renderMarkdown(result) {
  const f = result.figures;
  const id = f.identity;
  return [
    '# Chaos run: results',
    '',
    `Written by \`node test/chaos/chaos.mjs --duration ${f.duration}\` (\`npx -y pnpm@10.34.9 chaos\` runs it for ` +
      `600 s after a build) on ${f.started}: ${(f.elapsedMs / 1_000).toFixed(1)} s in all, seed ${f.seed}, ` +
      `Node ${process.version}, ${f.machine.cpus} CPUs (load average ${f.machine.loadBefore[0].toFixed(1)} before, ` +
      `${f.machine.loadAfter[0].toFixed(1)} after), packages at commit ${id.commit} (dist sha256: core ${id.core}, express ` +
      `${id.express}, koa ${id.koa}, undici ${id.undici}). **${result.ok ? 'Every invariant held.' : 'An invariant failed.'}**`,
    '',
    'An Express gateway and a Koa gateway, each in its own process, serve `GET /api/:id` through the breaker ' +
      'middleware to a handler that calls the partner through the undici interceptor, and `/proxy/*` ' +
      'through the streaming proxy. The partner refuses connections, resets them before or during the body, ' +
      'hangs, sends slow bodies, bursts of 5xx, invalid status lines, huge heads, or closes right after its ' +
      'head, the fault changing every few seconds; its failing answers carry a marker that must never reach a client.',
    '',
    ...invariantsSection(result),
    '',
    ...trafficSection(f),
    '',
    ...faultsSection(f),
    '',
    ...deadlinesSection(f),
    '',
    ...leaksSection(f),
    '',
    ...fuzzSection(f),
    '',
    ...samplesSection(f),
  ].join('\n');
}
