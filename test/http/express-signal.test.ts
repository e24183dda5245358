import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { breakerSignal, circuitBreaker } from '@breaker/express';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function serve(app: (req: never, res: never) => void): Promise<string> {
  const server = (app as unknown as { listen(port: number, host: string): Server }).listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('breakerSignal(req)', () => {
  for (const [label, make] of [
    ['Express 5', express],
    ['Express 4', express4 as unknown as typeof express],
  ] as const) {
    it(`${label}: gives a guarded handler its request's signal, aborted at callTimeout; an unguarded one a TypeError`, async () => {
      const app = make();
      let aborted: Promise<unknown> | undefined;
      app.get('/guarded', circuitBreaker({ name: 'sig', callTimeout: 50 }), (req, res) => {
        const signal = breakerSignal(req);
        expect(signal).toBe(req.breaker?.signal);
        aborted = new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
        void aborted.then(() => res.end());
      });
      app.get('/bare', (req, res) => {
        try {
          breakerSignal(req);
          res.end('no error');
        } catch (error) {
          res.status(500).end(error instanceof TypeError ? error.message : 'other');
        }
      });
      const base = await serve(app);
      expect((await fetch(`${base}/guarded`)).status).toBe(504);
      expect(await aborted).toMatchObject({ name: 'CallTimeoutError' });
      const bare = await fetch(`${base}/bare`);
      expect(bare.status).toBe(500);
      expect(await bare.text()).toMatch(/breakerSignal\(req\): this request has no breaker/);
    });
  }
});
