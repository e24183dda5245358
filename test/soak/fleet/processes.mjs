// Child processes and Redis for the fleet soak: the private redis-server, the Node children (replicas and
// partner) with their IPC, a minimal RESP client for the commands the run sends to Redis, and the
// identity of the packages under test.
import { fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

export const abortError = () => Object.assign(new Error('The soak was aborted'), { name: 'AbortError' });

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

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Parses one RESP value from `text` at `at`; null while it is incomplete. */
function parseResp(text, at = 0) {
  const end = text.indexOf('\r\n', at);
  if (end === -1) return null;
  const type = text[at];
  const line = text.slice(at + 1, end);
  if (type === '+' || type === '-') return [type === '-' ? new Error(line) : line, end + 2];
  if (type === ':') return [Number(line), end + 2];
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return [null, end + 2];
    if (text.length < end + 2 + length + 2) return null;
    return [text.slice(end + 2, end + 2 + length), end + 2 + length + 2];
  }
  if (type === '*') {
    const items = [];
    let next = end + 2;
    for (let i = 0; i < Number(line); i++) {
      const parsed = parseResp(text, next);
      if (parsed === null) return null;
      items.push(parsed[0]);
      next = parsed[1];
    }
    return [items, next];
  }
  throw new Error(`unexpected reply from Redis: ${text.slice(0, 40)}`);
}

/** One command over a fresh loopback connection (replies are ASCII here); resolves with its reply. */
export function redisCommand(port, args, timeoutMs = 1_000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`Redis did not answer ${args[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk) => {
      reply += chunk;
      let parsed;
      try {
        parsed = parseResp(reply);
      } catch (error) {
        parsed = [error];
      }
      if (parsed === null) return;
      clearTimeout(timer);
      socket.destroy();
      if (parsed[0] instanceof Error) reject(parsed[0]);
      else resolve(parsed[0]);
    });
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

/** Subscribers per pub/sub channel, as Redis sees them. */
export async function pubsubCounts(port) {
  const channels = await redisCommand(port, ['PUBSUB', 'CHANNELS']);
  if (channels.length === 0) return {};
  const counts = await redisCommand(port, ['PUBSUB', 'NUMSUB', ...channels]);
  const out = {};
  for (let i = 0; i < counts.length; i += 2) out[counts[i]] = counts[i + 1];
  return out;
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
    this.#reaper = fork(`${HERE}../../harness/reaper.mjs`, [], {
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

export async function startRedis(children, port, signal) {
  const lines = [];
  const child = children.add(
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  tail(child.stdout, lines);
  tail(child.stderr, lines);
  const failed = new Promise((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`could not start redis-server (is it on the PATH?): ${error.message}`)),
    );
    child.once('exit', (code) =>
      reject(new Error(`redis-server exited with ${code}: ${lines.slice(-5).join(' | ')}`)),
    );
  });
  failed.catch(() => {});
  const deadline = Date.now() + 5_000;
  for (;;) {
    const pong = await Promise.race([redisCommand(port, ['PING'], 500).catch(() => null), failed]);
    if (pong === 'PONG') return child;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 5 s`);
    await sleep(20, signal);
  }
}

export function startNode(children, script, args, execArgv, signal) {
  const lines = [];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
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
  return { child, lines, ready };
}

export function ask(child, message, timeoutMs = 1_000) {
  return new Promise((resolve, reject) => {
    const id = Math.random();
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
  return {
    packages,
    commit,
    core: hash(`${packages}core/dist/index.js`),
    redis: hash(`${packages}redis/dist/index.js`),
    express: hash(`${packages}express/dist/index.js`),
  };
}
