// The scale bench's tables: what each fleet cost Redis per unit, how that grows with the fleet, and the
// extrapolation to the target fleets, with the targets index.mjs summarises.
import { num } from '../lib.mjs';
import {
  COMMAND_BUDGET,
  extrapolate,
  fig,
  fitTerms,
  mbps,
  perUnit,
  share,
  shares,
  valueAt,
} from './model.mjs';
import { LATE_INTERVALS, rows, scenarioSections } from './sections.mjs';

const usPerScript = (row) => row.r.redis.usecOfScripts / row.r.redis.scripts;

/** Redis's own µs per script call against the fleet's size: what a script scans may grow with it. */
function perScript(label, list) {
  const points = list
    .filter((x) => !x.short && x.r.redis.scripts > 0)
    .map((x) => ({
      replicas: x.m.replicas,
      breakers: x.m.breakers,
      y: usPerScript(x),
      w: x.r.redis.scripts,
    }));
  return growthRow(label, 'µs per script', fitTerms(points, ['perReplica']));
}

/** One figure's fit: its terms, and the share of it that grows with the fleet at each target. */
function growthRow(label, figure, f) {
  const growth = (target) => {
    const at = valueAt(f, target);
    return at > 0 ? `${Math.round((100 * (f.coef.perReplica ?? 0) * target.replicas) / at)} %` : '–';
  };
  const term = (name) => (f.coef[name] === undefined ? '–' : fig(f.coef[name]));
  return [
    label,
    figure,
    fig(f.a),
    term('perReplica'),
    term('perStore'),
    term('perBreaker'),
    ...TARGETS.map(growth),
  ];
}

/** The terms each scenario's figures are fitted with (see model.mjs). */
const TERMS_OF = {
  steady: ['perReplica', 'perStore'],
  failures: ['perReplica', 'perStore'],
  halfOpen: ['perReplica', 'perStore'],
  trip: ['perReplica', 'perBreaker'],
};

const TARGETS = [
  { replicas: 100, breakers: 1_000 },
  { replicas: 1_000, breakers: 100 },
];

export function buildReport({ measured, calibration, config, seconds, redisVersion }) {
  const steady = rows(measured, 'steady', config);
  const fails = rows(measured, 'failures', config);
  const half = rows(measured, 'halfOpen', config, {
    waiting: (m) => (m.replicas - 1) * m.breakers,
    admitted: false,
  });
  const trip = measured.map((m) => ({
    m,
    r: m.trip,
    u: perUnit(m.trip.redis, m.replicas * m.breakers, false),
    // A trip is a burst: the process may run a little late through it, but not for long.
    short: m.trip.loop.p99 > (2 * LATE_INTERVALS * 1_000) / config.rate,
  }));
  const fitRows = (list) =>
    list
      .filter((x) => x.u !== undefined && !x.short)
      .map((x) => ({
        replicas: x.m.replicas,
        breakers: x.m.breakers,
        weight: x.m.replicas * x.m.breakers,
        units: x.u,
      }));
  const incr = calibration.cpuUsPerCommand;

  const extrapolations = [];
  const targetResults = {};
  for (const target of TARGETS) {
    const at = `${num(target.replicas)} × ${num(target.breakers)}`;
    for (const [label, list, counted, terms] of [
      ['steady success', steady, undefined, TERMS_OF.steady],
      ['1 % failures', fails, undefined, TERMS_OF.failures],
      ['half-open (leases)', half, (n) => n - 1, TERMS_OF.halfOpen],
    ]) {
      const x = extrapolate(fitRows(list), target, counted, terms);
      const s = shares(x);
      if (label === '1 % failures') targetResults[at] = s;
      extrapolations.push([
        label,
        at,
        fig(x.commands.total),
        share(s.byCommands),
        fig(x.cpuUs.total),
        share(s.byCpu),
        share(x.cpuUs.total / incr / COMMAND_BUDGET),
        mbps(x.bytesIn.total),
        mbps(x.bytesOut.total),
        `${Math.round(100 * Math.max(x.commands.growth, x.cpuUs.growth))} %`,
      ]);
    }
  }
  const tripTargets = TARGETS.map((target) => {
    const x = extrapolate(fitRows(trip), target, undefined, TERMS_OF.trip);
    return { target, x, s: shares(x) };
  });

  const sections = [
    ...scenarioSections({ measured, config, steady, fails, half, trip }),
    {
      heading: 'Growth with the fleet',
      text: "Each per-unit figure fitted over the fleets above as a + b·N + c/B + p/N (N replicas of B breakers), weighted by their units: a is what each unit costs; b·N what grows with the fleet, so that a fleet's total is units × (a + b·N + …) and grows faster than its size when b > 0; c/B a cost of each store, shared by its breakers (subscription checks, reconciliation reads, one script a round); p/N a cost of each breaker, shared by its replicas (a trip stored and published once). Steady scenarios are fitted with b and c, the trip with b and p. A term is kept only if positive and over two standard errors; the weakest is dropped and the rest refitted until each stands, and with none left the figure is flat (a, the weighted mean). The last columns give the share of b·N in the figure at each target fleet. A script carries every breaker of one replica that is due in a round (up to 100), so µs per script also follow how many are due together. Each scenario runs for seconds, while the shared window spans a minute: hashes a script reads (count slices) are not yet as full as in a fleet that has run for a minute.",
      table: {
        columns: [
          'scenario',
          'figure',
          'a (per unit)',
          'b (× N)',
          'c (÷ B)',
          'p (÷ N)',
          ...TARGETS.map((t) => `b·N share at ${num(t.replicas)} × ${num(t.breakers)}`),
        ],
        rows: [
          ['steady success', steady, TERMS_OF.steady],
          ['1 % failures', fails, TERMS_OF.failures],
          ['half-open, per waiting unit', half, TERMS_OF.halfOpen],
          ['correlated trip, per unit', trip, TERMS_OF.trip],
        ]
          .flatMap(([label, list, terms]) =>
            ['commands', 'cpuUs', 'deliveries'].map((key) => {
              const x = extrapolate(fitRows(list), TARGETS[0], undefined, terms)[key];
              return growthRow(label, key === 'cpuUs' ? 'CPU µs' : key, x);
            }),
          )
          .concat(
            [
              ['steady success', steady],
              ['1 % failures', fails],
            ]
              .filter(([, list]) => list.some((x) => x.r.redis.scripts > 0))
              .map(([label, list]) => perScript(label, list)),
          ),
      },
    },
    {
      heading: 'Extrapolation to the target fleets',
      text: `Per second, from the fits above. Shares of one Redis, whose budget is ${num(COMMAND_BUDGET)} simple commands a second: commands (every command, those inside scripts included) ÷ ${num(COMMAND_BUDGET)}, and Redis CPU µs a second ÷ 1,000,000 (one core); the targets take the larger of the two. For context, "as INCR" converts the CPU into simple commands at what one cost here (INCR from 4 connections, each awaiting its answer: ${fig(incr)} µs of Redis CPU, so ${num(COMMAND_BUDGET)} a second would take ${share((COMMAND_BUDGET * incr) / 1e6)} of a core on this machine). "from growth": the share of the figure that comes from the b·N term. Extrapolating from at most ${Math.max(...measured.map((m) => m.replicas))} replicas to 1,000 is a long reach.`,
      table: {
        columns: [
          'scenario',
          'fleet',
          'commands/s',
          '÷ 100,000',
          'CPU µs/s',
          '÷ 1e6',
          'as INCR ÷ 100,000',
          'MB/s in',
          'MB/s out',
          'from growth',
        ],
        rows: extrapolations,
      },
    },
    {
      heading: 'Extrapolation of a correlated trip',
      text: `Redis's work for one trip of every breaker, from the per-unit fit of (4): Redis-seconds by commands (÷ ${num(COMMAND_BUDGET)}) and by CPU (÷ 1,000,000 µs), and the CPU as INCRs ÷ ${num(COMMAND_BUDGET)}.`,
      table: {
        columns: [
          'fleet',
          'commands',
          'Redis-s (commands)',
          'CPU µs',
          'Redis-s (CPU)',
          'as INCR',
          'deliveries',
          'MB out',
        ],
        rows: tripTargets.map(({ target, x, s }) => [
          `${num(target.replicas)} × ${num(target.breakers)}`,
          fig(x.commands.total),
          fig(s.byCommands),
          fig(x.cpuUs.total),
          fig(s.byCpu),
          fig(x.cpuUs.total / incr / COMMAND_BUDGET),
          fig(x.deliveries.total),
          mbps(x.bytesOut.total),
        ]),
      },
    },
  ];

  const targets = [
    ...TARGETS.map((t) => {
      const at = `${num(t.replicas)} × ${num(t.breakers)}`;
      const s = targetResults[at];
      const worst = Math.max(s.byCommands, s.byCpu);
      return {
        target: `1 % failures on ${at}: under 0.5 of one Redis (the larger of commands and CPU)`,
        figure: `${share(s.byCommands)} commands, ${share(s.byCpu)} CPU`,
        met: worst < 0.5,
      };
    }),
    (() => {
      const { s } = tripTargets[0];
      return {
        target: 'correlated trip of 100 × 1,000: under 1 Redis-second of work',
        figure: `${fig(s.byCommands)} s commands, ${fig(s.byCpu)} s CPU`,
        met: Math.max(s.byCommands, s.byCpu) < 1,
      };
    })(),
  ];

  return {
    title: 'Redis store at scale (redis-scale.mjs)',
    intro: [
      `A private redis-server ${redisVersion} on loopback. Each replica is a \`RedisStore\` with its own two connections (all in this process), holding the same B breakers as every other replica; a fleet is N replicas × B breakers, and a unit is one breaker on one replica. Every unit gets ${config.rate} calls a second, spread evenly over time and breakers. Per-unit figures of steady traffic are per call that reached a breaker, times ${config.rate}, so that breakers turned open (which count nothing) or a busy machine do not lower them.`,
      `Figures are what Redis reports between \`CONFIG RESETSTAT\` and \`INFO\`: commands (\`total_commands_processed\`, which counts the commands a script runs as well as the script), script invocations (EVALSHA, EVAL, FCALL), CPU time of the server process (user + system, INFO cpu) less what it spends idle (${fig(calibration.idleUsPerSecond)} µs a second, measured before the fleets), and bytes in and out (the test subscriber's deliveries and the bench's own commands taken out). "µs/script" is Redis's own time per script call (INFO commandstats), without I/O. In the steady scenarios (1 to 3) the counters are read every 200 ms and each figure is the rate of a line fitted through the readings, times the seconds measured, so that work done in periodic rounds counts the same wherever the window's ends fall; the trip and start-up are totals between two readings.`,
      `The whole run took ${num(seconds)} s.`,
    ].join(' '),
    sections,
    targets,
  };
}
