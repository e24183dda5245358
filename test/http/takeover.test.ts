// The breaker's own answer at callTimeout, written through the response a fallback is given: whatever the
// framework writes for it later (a file streamed by res.sendFile, a view an async engine renders) goes out,
// and the late handler's writes do not.
import { fileURLToPath } from 'node:url';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker } from '@breaker/express';

const servers: { close(): void; closeAllConnections(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A handler that answers too late, after the breaker's answer. */
const late = (_req: express.Request, res: express.Response) => {
  setTimeout(() => res.status(500).set('x-late', 'yes').send('late'), 80);
};

/** A handler that sets a failing status just after the deadline, before a slow fallback has answered. */
const lateStatus = (_req: express.Request, res: express.Response) => {
  setTimeout(() => res.status(500), 40);
};

describe('a timed-out request answered by the fallback', () => {
  it('streams a file the fallback sends with res.sendFile', async () => {
    const file = fileURLToPath(import.meta.url);
    const app = express();
    app.get(
      '/file',
      circuitBreaker({ name: 'file', callTimeout: 30, fallback: (_req, res) => res.sendFile(file) }),
      late,
    );
    const response = await fetch(`${await serve(app)}/file`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-late')).toBeNull();
    expect(await response.text()).toContain('streams a file the fallback sends');
  });

  it('renders a view with an engine that answers asynchronously, reading res.app', async () => {
    const app = express();
    app.locals.title = 'cached';
    // The engine is given this very file as its view; it reads nothing from it.
    app.engine('ts', (_path, options, callback) => {
      setTimeout(() => callback(null, `title: ${(options as { title: string }).title}`), 10);
    });
    app.set('views', fileURLToPath(new URL('.', import.meta.url)));
    app.set('view engine', 'ts');
    app.get(
      '/view',
      circuitBreaker({
        name: 'view',
        callTimeout: 30,
        fallback: (_req, res) => res.render('takeover.test.ts', { title: String(res.app.locals.title) }),
      }),
      late,
    );
    const response = await fetch(`${await serve(app)}/view`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('title: cached');
  });

  it('keeps its status when the late handler sets one before the fallback has answered', async () => {
    const app = express();
    app.get(
      '/status',
      circuitBreaker({
        name: 'status',
        callTimeout: 30,
        fallback: async (_req, res) => {
          await new Promise((resolve) => setTimeout(resolve, 60));
          res.json({ cached: true });
        },
      }),
      lateStatus,
    );
    const response = await fetch(`${await serve(app)}/status`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ cached: true });
  });
});
