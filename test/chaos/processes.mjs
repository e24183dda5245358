// Child processes of a chaos run (the partner and the two gateways) with their IPC, free ports, and the
// identity of the packages under test. Every child is killed on every way out of a run, and by the reaper
// if the runner itself dies first.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

export const abortError = () => Object.assign(new Error('The chaos run was aborted'), { name: 'AbortError' });

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function tryListen(port) {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => {
      const bound = server.address().port;
      server.close(() => resolve(bound));
    });
  });
}

function ephemeralLow() {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
}

/**
 * A free port. `stable`: one below the kernel's ephemeral range, for a server that closes its port and
 * opens it again, so that no outgoing connection can take it in between.
 */
export async function freePort({ stable = false } = {}) {
  if (!stable) return tryListen(0);
  const high = Math.min(ephemeralLow(), 32_768) - 1;
  const low = 10_000;
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(low + Math.floor(Math.random() * (high - low)));
    if (port !== null) return port;
  }
  throw new Error(`no free port from ${low} to ${high} after 50 tries`);
}

export const alive = (child) => child.exitCode === null && child.signalCode === null;

export function exited(child, timeoutMs) {
  if (!alive(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The last lines a child wrote, for the report when it misbehaves. */
function tail(stream, lines) {
  stream?.setEncoding('utf8');
  let partial = '';
  stream?.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    lines.push(...parts);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  });
}

/** Every child of a run; killed on every way out, and by the reaper if this process dies first. */
export class Children {
  #children = new Set();
  #reaper;

  constructor() {
    this.#reaper = fork(`${HERE}../harness/reaper.mjs`, [], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      execArgv: [],
    });
    this.#reaper.on('error', () => {});
    this.#reaper.unref();
    this.#reaper.channel?.unref();
  }

  add(child) {
    this.#children.add(child);
    if (child.pid !== undefined && this.#reaper.connected)
      this.#reaper.send({ type: 'watch', pid: child.pid });
    child.once('exit', () => {
      this.#children.delete(child);
      if (this.#reaper.connected) this.#reaper.send({ type: 'forget', pid: child.pid });
    });
    return child;
  }

  /** Synchronous, for process 'exit'. */
  killAll() {
    for (const child of this.#children) {
      if (!alive(child)) continue;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }

  async close() {
    const left = [...this.#children];
    this.killAll();
    await Promise.all(left.map((child) => exited(child, 2_000)));
    if (this.#reaper.connected) this.#reaper.disconnect();
  }
}

/** Forks `script` (in this directory) and waits for its `ready` message, which carries its port. */
export function startNode(children, script, args, execArgv, signal) {
  const lines = [];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // Frameworks show stack traces outside production: a stack that reaches a client must be seen.
  delete env.NODE_ENV;
  const child = children.add(
    fork(`${HERE}${script}`, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv, env }),
  );
  tail(child.stdout, lines);
  tail(child.stderr, lines);
  child.on('error', () => {});
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} was not ready within 10 s`)), 10_000);
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    child.on('message', function onReady(message) {
      if (message?.type !== 'ready') return;
      child.off('message', onReady);
      settle();
      resolve(message.port);
    });
    child.once('exit', (code, sig) => {
      settle();
      reject(
        new Error(`${script} exited (${code ?? sig}) before it was ready: ${lines.slice(-10).join('\n')}`),
      );
    });
  });
  ready.catch(() => {});
  return { child, lines, ready };
}

let asked = 0;

/** Sends `message` over IPC and resolves with the reply that carries the same id. */
export function ask(child, message, timeoutMs = 2_000) {
  return new Promise((resolve, reject) => {
    const id = ++asked;
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no answer to ${message.type} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(reply) {
      if (reply?.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(reply);
    }
    child.on('message', onMessage);
    if (!child.connected) {
      clearTimeout(timer);
      child.off('message', onMessage);
      reject(new Error(`cannot ask ${message.type}: the child has exited`));
      return;
    }
    child.send({ ...message, id });
  });
}

export function distIdentity(packages) {
  const hash = (file) => {
    try {
      return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
    } catch {
      return 'missing';
    }
  };
  let commit = 'unknown';
  try {
    const git = `${packages}../.git/`;
    const head = readFileSync(`${git}HEAD`, 'utf8').trim();
    commit = head.startsWith('ref: ')
      ? readFileSync(`${git}${head.slice(5)}`, 'utf8')
          .trim()
          .slice(0, 12)
      : head.slice(0, 12);
  } catch {
    // Not a checkout.
  }
  const dists = {};
  for (const name of ['core', 'express', 'koa', 'undici'])
    dists[name] = hash(`${packages}${name}/dist/index.js`);
  return { packages, commit, ...dists };
}
