// The streaming proxy against what Express users run today: @breaker/undici's proxy() (breaker closed),
// http-proxy-middleware, and a bare undici stream into the response, for a 1 KB and a 1 MiB body. The
// partner, each gateway and the load generator (loader.mjs, autocannon) run in processes of their own on
// 127.0.0.1; the gateways take turns over rounds. Figures: req/s, p99 latency, the gateway's CPU time per
// request, and its heap growth (after a GC) from the end of the warm-up to the end of the run.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { envInt, max, median, min, num, progress, ratio, runIfMain } from './lib.mjs';

const ROUNDS = envInt('BENCH_PROXY_ROUNDS', 5);
const SECONDS = envInt('BENCH_PROXY_SECONDS', 3);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 10;
const VARIANTS = [
  ['breaker', '@breaker/undici `proxy()`'],
  ['hpm', 'http-proxy-middleware'],
  ['pipe', 'bare undici `stream()`'],
];
const BODIES = [
  ['small', '1 KB body'],
  ['large', '1 MiB body'],
];

const here = (file) => fileURLToPath(new URL(file, import.meta.url));

/** A forked child that answers messages by id (loader.mjs), or by kind (proxy-server.mjs). */
async function start(file, args, execArgv = []) {
  const child = fork(here(file), args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [first] = file === 'loader.mjs' ? [undefined] : await once(child, 'message');
  return { child, port: first?.port };
}

function ask(child, message, pick) {
  return new Promise((resolve, reject) => {
    const onMessage = (reply) => {
      if (!pick(reply)) return;
      child.off('message', onMessage);
      if (reply.error !== undefined) reject(new Error(reply.error));
      else resolve(reply);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

export async function run() {
  const upstream = await start('proxy-server.mjs', ['upstream']);
  const loader = await start('loader.mjs', []);
  const gateways = {};
  for (const [variant] of VARIANTS) {
    gateways[variant] = await start('proxy-server.mjs', [variant, String(upstream.port)], ['--expose-gc']);
  }
  let id = 0;
  const load = (variant, body, seconds) => {
    const url = `http://127.0.0.1:${gateways[variant].port}/p/${body}`;
    const n = ++id;
    return ask(loader.child, { id: n, url, connections: CONNECTIONS, seconds }, (reply) => reply.id === n);
  };
  const usage = async (variant) =>
    (await ask(gateways[variant].child, { usage: true }, (reply) => reply.usage !== undefined)).usage;

  const results = {};
  const heapStart = {};
  try {
    for (const [body] of BODIES) {
      results[body] = Object.fromEntries(VARIANTS.map(([v]) => [v, { rps: [], p99: [], cpu: [] }]));
      for (const [variant] of VARIANTS) await load(variant, body, WARMUP_SECONDS);
    }
    for (const [variant] of VARIANTS) heapStart[variant] = (await usage(variant)).heapUsed;
    for (let round = 0; round < ROUNDS; round++) {
      progress(`proxy: round ${round + 1} of ${ROUNDS}`);
      for (const [body] of BODIES) {
        const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        for (const [variant] of order) {
          const before = await usage(variant);
          const result = await load(variant, body, SECONDS);
          const after = await usage(variant);
          if (result.non2xx > 0 || result.errors > 0) {
            throw new Error(
              `proxy: ${variant} ${body} answered ${result.non2xx} non-2xx, ${result.errors} errors`,
            );
          }
          const figures = results[body][variant];
          figures.rps.push(result.rps);
          figures.p99.push(result.p99);
          figures.cpu.push((after.cpuMicros - before.cpuMicros) / result.total);
        }
      }
    }
    const heapGrowth = {};
    for (const [variant] of VARIANTS)
      heapGrowth[variant] = (await usage(variant)).heapUsed - heapStart[variant];
    return report(results, heapGrowth);
  } finally {
    for (const { child } of [upstream, loader, ...Object.values(gateways)]) child.kill();
  }
}

function report(results, heapGrowth) {
  const sections = BODIES.map(([body, label]) => {
    const figures = results[body];
    const m = (variant, key) => median(figures[variant][key]);
    return {
      heading: `${label}, ${CONNECTIONS} connections`,
      table: {
        columns: [
          'gateway',
          'req/s',
          'rounds',
          'p99 ms',
          'CPU µs/req',
          'req/s × hpm',
          'req/s × pipe',
          'p99 × hpm',
        ],
        align: ['l'],
        rows: VARIANTS.map(([variant, what]) => [
          what,
          num(m(variant, 'rps')),
          `${num(min(figures[variant].rps))}–${num(max(figures[variant].rps))}`,
          num(m(variant, 'p99'), 1),
          num(m(variant, 'cpu'), 1),
          ratio(m(variant, 'rps') / m('hpm', 'rps')),
          ratio(m(variant, 'rps') / m('pipe', 'rps')),
          ratio(m(variant, 'p99') / m('hpm', 'p99')),
        ]),
      },
    };
  });
  sections.push({
    heading: 'Heap growth over the measured rounds (after a GC)',
    table: {
      columns: ['gateway', 'heap growth KB'],
      align: ['l'],
      rows: VARIANTS.map(([variant, what]) => [what, num(heapGrowth[variant] / 1024)]),
    },
  });
  const targets = BODIES.flatMap(([body, label]) => {
    const m = (variant, key) => median(results[body][variant][key]);
    const vsHpm = m('breaker', 'rps') / m('hpm', 'rps');
    const p99 = m('breaker', 'p99') / m('hpm', 'p99');
    const vsPipe = m('breaker', 'rps') / m('pipe', 'rps');
    return [
      {
        target: `${label}: proxy() req/s ≥ http-proxy-middleware`,
        value: vsHpm,
        figure: ratio(vsHpm),
        met: vsHpm >= 1,
      },
      {
        target: `${label}: proxy() p99 < http-proxy-middleware`,
        value: p99,
        figure: ratio(p99),
        met: p99 < 1,
      },
      {
        target: `${label}: proxy() req/s ≥ 0.9× bare undici pipe`,
        value: vsPipe,
        figure: ratio(vsPipe),
        met: vsPipe >= 0.9,
      },
    ];
  });
  return {
    title: 'Streaming proxy (proxy.mjs)',
    intro:
      `Express 5 gateways proxying GET /p/* to a local partner, each in a process of its own, loaded by ` +
      `autocannon from another; median of ${ROUNDS} interleaved rounds of ${SECONDS} s, with the slowest and ` +
      `fastest round. CPU time is the gateway process's user + system time over the round, per request.`,
    sections,
    targets,
  };
}

await runIfMain(import.meta, run);
