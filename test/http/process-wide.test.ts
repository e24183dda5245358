// A 504 at callTimeout takes the response away from a late handler. Doing so must reach nothing beyond that
// one response: no async context, which on Node 20 and 22 would turn promise hooks on for every later
// promise of the application. Checked in a process of its own, on the built packages.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const express = `${root}packages/express/dist/index.js`;

beforeAll(() => {
  for (const name of ['core', 'express']) {
    const dir = `${root}packages/${name}/`;
    if (!existsSync(`${dir}dist/index.js`)) execFileSync('npx', ['tsup'], { cwd: dir, stdio: 'ignore' });
  }
}, 120_000);

describe('the late-write guard', () => {
  it('leaves promises untracked after a 504 and after a timed-out fallback that answers after an await', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { executionAsyncId } from 'node:async_hooks';
        import express from 'express';
        import { circuitBreaker } from ${JSON.stringify(express)};

        // With promise hooks on, each awaited promise gets an async id of its own.
        async function tracked() {
          const before = executionAsyncId();
          await null;
          return executionAsyncId() !== before;
        }
        const trackedAtStart = await tracked();

        const app = express();
        app.get('/plain', circuitBreaker({ name: 'plain', callTimeout: 30 }), () => {});
        app.get(
          '/fallback',
          circuitBreaker({
            name: 'fallback',
            callTimeout: 30,
            fallback: async (req, res, info) => {
              await new Promise((resolve) => setTimeout(resolve, 10));
              res.status(200).set('x-fallback', info.reason).json({ cached: true });
            },
          }),
          (req, res) => setTimeout(() => res.status(500).send('late'), 100),
        );
        const server = app.listen(0, '127.0.0.1');
        await new Promise((resolve) => server.once('listening', resolve));
        const base = 'http://127.0.0.1:' + server.address().port;
        const plain = await fetch(base + '/plain');
        const fallback = await fetch(base + '/fallback');
        const answers = [plain.status, await plain.text() !== '', fallback.status, fallback.headers.get('x-fallback'), await fallback.json()];
        await new Promise((resolve) => setTimeout(resolve, 150)); // the late handler writes, and is ignored
        server.closeAllConnections();
        server.close();
        console.log(JSON.stringify({ trackedAtStart, trackedAfter: await tracked(), answers }));
        `,
      ],
      { cwd: root, encoding: 'utf8', timeout: 20_000 },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      trackedAtStart: false,
      trackedAfter: false,
      answers: [504, true, 200, 'timeout', { cached: true }],
    });
  });
});
