// Whether a gateway pays, for the rest of its life, for one `callTimeout` 504: a closed `fire()` and the
// awaited-promise floor, measured in fresh processes that first serve one request through the Express
// middleware: answered by the handler ("before"), or by the middleware's 504 at `callTimeout` ("after").
// Both load and run the same code but for the 504, so anything it turned on process-wide (promise hooks,
// say) shows as the "after" processes being slower. The processes take turns.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CircuitBreaker } from '@breaker/core';
import { circuitBreaker } from '@breaker/express';
import express from 'express';
import { envInt, max, median, min, ns, progress, ratio, runIfMain } from './lib.mjs';
import { loop, sample } from './micro.mjs';

const PROCESSES = envInt('BENCH_504_PROCESSES', 6);
const ROUNDS = envInt('BENCH_504_ROUNDS', 9);

/** Serves one request through the middleware, answered by the handler or by the 504, then closes everything. */
async function oneRequest(timeout) {
  const app = express();
  app.get('/hung', circuitBreaker({ name: 'hung', callTimeout: 20 }), (_req, res) => {
    if (!timeout) res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const response = await fetch(`http://127.0.0.1:${server.address().port}/hung`);
  await response.arrayBuffer();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  const expected = timeout ? 504 : 200;
  if (response.status !== expected) throw new Error(`after504: expected ${expected}, got ${response.status}`);
}

/** In a child process: ns per call of the floor and of a closed fire(), the median over ROUNDS. */
async function child(after) {
  await oneRequest(after);
  const breaker = new CircuitBreaker({ name: 'after504' });
  const succeed = async () => 1;
  const floor = loop('floor', () => succeed().then((v) => v));
  const fire = loop('fire', () => breaker.fire(succeed));
  const times = { floor: [], fire: [] };
  for (let round = -2; round < ROUNDS; round++) {
    const f = await sample(floor);
    const b = await sample(fire);
    if (round >= 0) {
      times.floor.push(f);
      times.fire.push(b);
    }
  }
  process.stdout.write(JSON.stringify({ floor: median(times.floor), fire: median(times.fire) }));
}

export async function run() {
  const self = fileURLToPath(import.meta.url);
  const figures = { before: { floor: [], fire: [] }, after: { floor: [], fire: [] } };
  for (let i = 0; i < PROCESSES; i++) {
    progress(`after504: process pair ${i + 1} of ${PROCESSES}`);
    const order = i % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
    for (const mode of order) {
      const result = spawnSync(process.execPath, [self, '--child', mode], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (result.status !== 0) throw new Error(`after504: the ${mode} process failed: ${result.stderr}`);
      const { floor, fire } = JSON.parse(result.stdout);
      figures[mode].floor.push(floor);
      figures[mode].fire.push(fire);
    }
  }
  const row = (label, key) => {
    const before = figures.before[key];
    const after = figures.after[key];
    return [
      label,
      ns(median(before)),
      ns(median(after)),
      ratio(median(after) / median(before)),
      `${ratio(min(after) / max(before))}–${ratio(max(after) / min(before))}`,
    ];
  };
  const value = median(figures.after.fire) / median(figures.before.fire);
  return {
    title: 'After a 504 (after504.mjs)',
    intro:
      `ns per awaited call in ${PROCESSES} fresh processes of each kind, taking turns; each process gives the ` +
      `median of ${ROUNDS} rounds. Each first serves one request through the Express middleware: answered by ` +
      `its handler ("before") or by the middleware's 504 at \`callTimeout\` ("after"). The range divides the slowest "after" by the fastest "before" and the other way round.`,
    sections: [
      {
        heading: 'A closed call before and after the first 504 of the process',
        table: {
          columns: ['what is timed', 'before ns/op', 'after ns/op', 'after ÷ before', 'range'],
          align: ['l'],
          rows: [row('`breaker.fire(fn)`, closed', 'fire'), row('floor: `fn().then(v => v)`', 'floor')],
        },
      },
    ],
    targets: [
      { target: 'closed fire() after a 504 ≤ 1.03× before', value, figure: ratio(value), met: value <= 1.03 },
    ],
  };
}

const at = process.argv.indexOf('--child');
if (at !== -1) await child(process.argv[at + 1] === 'after');
else await runIfMain(import.meta, run);
