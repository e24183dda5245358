import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A private redis-server on a free loopback port, started and stopped by the test that needs it. */
export interface TestRedis {
  port: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
}

/**
 * Test files run side by side, and a test that restarts Redis on the same port must not find another
 * file's server there: each vitest worker takes ports from a range of its own (10000 + 1000 per worker
 * slot), below the kernel's ephemeral range that `listen(0)` draws from, and with room for a Cluster
 * node's bus port (its port + 10000).
 */
const SLOT = Number(process.env.VITEST_POOL_ID ?? 0) % 10;
let nextPort = 0;

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 1_000; tries++) {
    const port = 10_000 + SLOT * 1_000 + (nextPort++ % 1_000);
    if (await canListen(port)) return port;
  }
  throw new Error("no free port in this worker's range");
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function startRedis(port?: number, extra: string[] = []): Promise<TestRedis> {
  const chosen = port ?? (await freePort());
  const child = spawn(
    'redis-server',
    ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    { stdio: 'ignore' },
  );
  await waitForPort(chosen, 5_000);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  };
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    process: child,
    stop,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server did not listen on port ${port}`);
}

/** Waits until `check` holds, polling every few milliseconds; returns the time it took. */
export async function until(check: () => boolean, timeoutMs = 3_000): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return performance.now() - started;
}
