// The scale bench's tables of what each fleet measured, scenario by scenario: the per-unit figures,
// the breakers that opened and why, the keys left in Redis, and Redis's commands by name.
import { num } from '../lib.mjs';
import { RATE_OPTIONS, STEADY_OPTIONS, TRIAL_OPTIONS } from './scenarios.mjs';
import { fig, percentile, perUnit } from './model.mjs';

export const fleetName = (m) => `${m.replicas} × ${num(m.breakers)}`;
const options = (o) => (Object.keys(o).length === 0 ? 'defaults' : `\`${JSON.stringify(o)}\``);
const ms = (v) => (Number.isFinite(v) ? v.toFixed(v >= 100 ? 0 : 1) : '–');
const top = (map, n = 2) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([text, k]) => `${k}× “${text.length > 90 ? `${text.slice(0, 90)}…` : text}”`)
    .join('; ');
const total = (map) => [...map.values()].reduce((s, k) => s + k, 0);

/** A fleet whose process fell behind: fewer calls than asked for, or a late event loop. */
const SHORT = 0.9;
export const LATE_INTERVALS = 1;

/**
 * Per-unit figures at the nominal rate. Redis's work here follows the calls that reach the breakers,
 * so figures are per such call × the rate: a fleet that fired fewer calls than asked (a busy
 * machine), or whose breakers turned calls away (open ones count nothing), is scaled up by the
 * shortfall. A fleet whose process fired under 90 % of the calls, or whose event loop ran later than
 * a call interval (p99), is flagged and left out of the fits: its timing was not the fleet's.
 */
export function rows(
  measured,
  key,
  config,
  { waiting = (m) => m.replicas * m.breakers, admitted = true } = {},
) {
  return measured.map((m) => {
    const r = m[key];
    const unitSeconds = m.replicas * m.breakers * r.redis.seconds;
    const fired = r.calls.fired / unitSeconds;
    const reached = admitted ? (r.calls.fired - r.calls.rejected) / unitSeconds : fired;
    const scale = reached > 0 ? config.rate / reached : 1;
    const units = waiting(m);
    const u = units > 0 ? scaled(perUnit(r.redis, units), scale) : undefined;
    const short = fired < SHORT * config.rate || r.loop.p99 > (LATE_INTERVALS * 1_000) / config.rate;
    return { m, r, u, achieved: fired, reached, short };
  });
}

function scaled(u, k) {
  return Object.fromEntries(Object.entries(u).map(([name, v]) => [name, v * k]));
}

export const flag = (row) => (row.short ? ' ¹' : '');
const loop = (r) => `${ms(r.loop.p99)}`;
const SHORT_NOTE =
  '¹ This process fell behind (it fired under 90 % of the calls asked for, or its event loop ran later than a call interval at p99, so that calls bunched): its figures are left out of the fits.';

function steadyTable(list, extra = []) {
  return {
    columns: [
      'fleet',
      'calls/unit·s',
      'admitted',
      'commands/unit·s',
      'scripts/unit·s',
      'CPU µs/unit·s',
      'µs/script',
      'bytes in/unit·s',
      'bytes out/unit·s',
      'loop p99 ms',
      ...extra.map((e) => e.column),
    ],
    rows: list.map((row) => [
      fleetName(row.m) + flag(row),
      fig(row.achieved),
      `${Math.round((100 * row.reached) / row.achieved)} %`,
      fig(row.u.commands),
      fig(row.u.scripts),
      fig(row.u.cpuUs),
      fig(row.r.redis.scripts > 0 ? row.r.redis.usecOfScripts / row.r.redis.scripts : Number.NaN),
      fig(row.u.bytesIn),
      fig(row.u.bytesOut),
      loop(row.r),
      ...extra.map((e) => e.value(row.m, row.r)),
    ]),
  };
}

function census(keys) {
  return [...keys.groups]
    .sort((a, b) => b[1].keys - a[1].keys)
    .map(([suffix, g]) => `\`${suffix}\` ${g.keys} ${g.type}, ${fig(g.size / g.keys)}`)
    .join('; ');
}

function causes(trips) {
  if (trips.breakers === 0) return 'none';
  const parts = [...trips.causes].map(([cause, k]) => `${k} by ${cause}`);
  const windows = [...trips.windows]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([w, k]) => `${w} (${k})`);
  return parts.join(', ') + (windows.length > 0 ? `; windows: ${windows.join(', ')}` : '');
}

function commandTable(measured) {
  const m = measured.at(-1);
  const units = m.replicas * m.breakers;
  const scenarios = [
    ['steady', 'steady', true],
    ['failures', '1 %', true],
    ['halfOpen', 'half-open', true],
    ['trip', 'trip', false],
  ];
  const names = new Set();
  for (const [key] of scenarios) for (const name of m[key].redis.commands.keys()) names.add(name);
  const rows = [...names]
    .map((name) => {
      const cells = scenarios.flatMap(([key, , perSecond]) => {
        const r = m[key].redis;
        const c = r.commands.get(name);
        const calls = c === undefined ? 0 : c.calls / (units * (perSecond ? r.seconds : 1));
        return perSecond ? [fig(calls), fig(c === undefined ? Number.NaN : c.usec / c.calls)] : [fig(calls)];
      });
      const weight = m.steady.redis.commands.get(name)?.calls ?? 0;
      return { name, cells, weight: weight + (m.failures.redis.commands.get(name)?.calls ?? 0) };
    })
    .sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name));
  return {
    heading: `Commands by name, ${fleetName(m)}`,
    text: 'Calls per unit and second (per unit for the trip) and Redis\'s own µs per call (INFO commandstats). A script\'s µs include the commands it runs, which are also counted under their own names ("commands" above counts both).',
    table: {
      columns: ['command', 'steady', 'µs', '1 %', 'µs', 'half-open', 'µs', 'trip (per unit)'],
      rows: rows.map((r) => [r.name, ...r.cells]),
    },
  };
}

/** Sections (1) to (5), and the commands by name of the last fleet. */
export function scenarioSections({ measured, config, steady, fails, half, trip }) {
  return [
    {
      heading: '(1) Steady success',
      text: `Breakers with ${options(STEADY_OPTIONS)}; every call succeeds. Measured for ${config.seconds} s after start-up.`,
      table: steadyTable(steady),
      notes: SHORT_NOTE,
    },
    {
      heading: '(2) 1 % failures',
      text: `Breakers with ${options(RATE_OPTIONS)} (the rate rule on the default window of 100 calls, and the consecutive rule); 1 % of calls fail, drawn at random per call from a generator seeded per unit, so each run draws the same outcomes. Nothing should open. "Fresh": new breakers take failures from their first call for ${config.freshSeconds} s, as at a deploy; the breakers that open are counted. The cost is then measured for ${config.failureSeconds} s, after ${config.warmup} s, on new breakers whose windows first hold 100 successful calls, as in a fleet that has been running ("later": breakers that opened then).`,
      table: steadyTable(fails, [
        { column: 'fresh: opened', value: (m, r) => `${r.trips.breakers} of ${num(m.breakers)}` },
        { column: 'unit openings', value: (_, r) => num(r.trips.opens) },
        { column: 'later: opened', value: (_, r) => num(r.later.breakers) },
      ]),
      notes: [
        'Breakers opened, by the cause of their first opening:',
        '',
        ...fails.map(
          ({ m, r }) =>
            `- ${fleetName(m)}: ${causes(r.trips)}${r.later.breakers > 0 ? `; later: ${causes(r.later)}` : ''}.`,
        ),
        '',
        'Keys in Redis at the end (by suffix: count, type, mean fields or members):',
        '',
        ...fails.map(({ m, r }) => `- ${fleetName(m)}: ${census(r.keys)}.`),
        '',
        SHORT_NOTE,
      ].join('\n'),
    },
    {
      heading: '(3) Half-open with traffic',
      text: `Breakers with ${options(TRIAL_OPTIONS)}, tripped by one failure on one replica, half-open everywhere a second later; admitted calls hang, so the fleet's one trial permit stays taken and the calls of every other replica ask for one. Measured for ${config.halfOpenSeconds} s; per-unit figures are per waiting unit ((N − 1) × B).`,
      table: {
        columns: [
          'fleet',
          'calls/unit·s',
          'scripts/s',
          'scripts/waiting unit·s',
          'commands/waiting unit·s',
          'CPU µs/waiting unit·s',
          'trial calls running',
          'loop p99 ms',
        ],
        rows: half.map((row) => [
          fleetName(row.m) + flag(row),
          fig(row.achieved),
          fig(row.r.redis.scripts / row.r.redis.seconds),
          fig(row.u?.scripts),
          fig(row.u?.commands),
          fig(row.u?.cpuUs),
          `${num(row.r.trials)}${row.r.reached ? '' : ' (not every breaker reached half-open)'}`,
          loop(row.r),
        ]),
      },
      notes: `A fleet allows ${TRIAL_OPTIONS.halfOpenMaxConcurrent ?? 1} trial call per breaker: "trial calls running" should equal B. Besides permit leases, the scripts include the store's periodic work for its active breakers (with one replica there is no permit to wait for, and only that remains). ${SHORT_NOTE}`,
    },
    {
      heading: '(4) Correlated trip',
      text: `Breakers with ${options(STEADY_OPTIONS)} (5 consecutive failures) after ${config.tripWarmup} s of steady success; then every call fails. Redis's work from that moment until every replica's breaker is open, plus 300 ms. A unit opens at its \`state-change\` to open, on its own failures or by pub/sub; with a call every ${ms(1_000 / config.rate)} ms, 5 failures take about ${ms(4_000 / config.rate)} ms on the fastest replica.`,
      table: {
        columns: [
          'fleet',
          'commands',
          'scripts',
          'CPU ms',
          'publishes',
          'deliveries',
          'per publish',
          'bytes out',
          'opened here',
          'all open p50 ms',
          'p99',
          'max',
          'loop p99 ms',
        ],
        rows: trip.map((row) => [
          fleetName(row.m) + flag(row),
          num(row.r.redis.totalCommands),
          num(row.r.redis.scripts),
          fig(row.r.redis.cpuUs / 1_000),
          num(row.r.redis.publishes),
          num(row.r.redis.deliveries),
          fig(row.r.redis.messagesSeen > 0 ? row.r.redis.deliveries / row.r.redis.messagesSeen : Number.NaN),
          num(row.r.redis.bytesOut),
          num(row.r.localTrips),
          ms(percentile(row.r.latencies, 50)),
          ms(percentile(row.r.latencies, 99)),
          `${ms(Math.max(...row.r.latencies))}${row.r.all ? '' : ' (not all opened)'}`,
          loop(row.r),
        ]),
      },
      notes:
        '"opened here": units that opened on their own failures (the rest adopted a change by pub/sub). "all open": per breaker, from the first failing moment until its last replica is open; p50, p99 and max over breakers. Every replica runs in this process, so a late event loop ("loop p99") delays them all: open times then measure this machine more than the store, and more replicas trip on their own failures before the fleet\'s message reaches them (each such replica runs the publish script too). ¹ Left out of the fit: the event loop ran later than two call intervals. Deliveries: Redis has no count of the messages it fans out, so a test subscriber (PSUBSCRIBE *) counts the publishes, and each is multiplied by its channel\'s subscribers (PUBSUB NUMSUB; the test subscriber is not among them).',
    },
    {
      heading: '(5) Start-up',
      text: `Every store and breaker made at once, with calls from the first moment; counted from the first store made until every store has emitted \`ready\`, and one second more. "Busy start": the same with this process held for ${num(config.busyMs)} ms by synchronous work (as a gateway's own start-up may) as soon as the first store's command connection is up, while the stores subscribe and read their breakers' states (every replica runs in this process, so all are held at once). A store reports each distinct error once (\`error\`), and to every breaker it holds (\`store-error\`).`,
      table: {
        columns: [
          'fleet',
          'ready p50 ms',
          'ready max ms',
          'store errors',
          'breaker store-errors',
          'busy start: store errors',
          'breaker store-errors',
          'commands/unit',
          'CPU µs/unit',
          'loop p99 ms',
        ],
        rows: measured.map((m) => {
          const s = m.startup;
          const u = perUnit(s.redis, m.replicas * m.breakers, false);
          return [
            fleetName(m),
            ms(percentile(s.readyMs, 50)),
            `${ms(Math.max(...s.readyMs))}${s.ready ? '' : ' (not all ready)'}`,
            num(total(s.storeErrors)),
            num(total(s.breakerErrors)),
            num(total(m.busyStartup.storeErrors)),
            num(total(m.busyStartup.breakerErrors)),
            fig(u.commands),
            fig(u.cpuUs),
            loop(s),
          ];
        }),
      },
      notes:
        measured
          .flatMap((m) =>
            [
              ['', m.startup],
              ['busy start, ', m.busyStartup],
            ]
              .filter(([, s]) => total(s.storeErrors) + total(s.breakerErrors) > 0)
              .map(
                ([what, s]) =>
                  `- ${fleetName(m)}, ${what}stores: ${top(s.storeErrors) || 'none'}; breakers: ${top(s.breakerErrors) || 'none'}.`,
              ),
          )
          .join('\n') || 'No errors in any fleet.',
    },
    commandTable(measured),
  ];
}
