// The Redis side of the scale bench: a private redis-server, and what it says it did. CONFIG RESETSTAT
// starts a measurement; INFO stats, cpu and commandstats end it; a pattern subscriber counts what
// pub/sub delivers, since INFO has no figure for the fan-out of a message.
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function serverVersion() {
  try {
    return (
      /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

/**
 * Starts redis-server on a free loopback port, without persistence. It is killed by `stop()`, and
 * also when this process exits or is interrupted, so an error never leaves it behind.
 */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  // Should this process be killed outright (a time limit's SIGKILL), a watchdog ends the server; it
  // stops watching once the server is gone, and checks that the id is still the server's.
  const watch = [
    `p=${process.pid}; r=${child.pid ?? 0}`,
    'while kill -0 $p 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1; done',
    'if ! kill -0 $p 2>/dev/null && grep -q redis-server /proc/$r/cmdline 2>/dev/null; then kill -9 $r; fi',
  ].join('; ');
  spawn('sh', ['-c', watch], { stdio: 'ignore', detached: true }).unref();
  const failed = new Promise((_, reject) =>
    child.once('error', (error) => reject(new Error(`could not start redis-server: ${error.message}`))),
  );
  const kill = () => {
    if (!exited) child.kill('SIGKILL');
  };
  const onSignal = (signal) => {
    kill();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', kill);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const up = async () => {
    for (let i = 0; i < 250; i++) {
      const open = await new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
        socket.on('error', () => resolve(false));
      });
      if (open) return;
      await wait(20);
    }
    throw new Error(`redis-server did not listen on port ${port} within 5 s`);
  };
  try {
    await Promise.race([up(), failed]);
  } catch (error) {
    kill();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    version: serverVersion(),
    stop() {
      kill();
      process.off('exit', kill);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Parses the text of INFO into { field: value } (numbers where they are numbers). */
function parseInfo(text) {
  const fields = {};
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf(':');
    fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

/** `cmdstat_evalsha:calls=3,usec=120,…` → Map('evalsha' → { calls, usec }). */
function commandStats(fields) {
  const commands = new Map();
  for (const [key, value] of Object.entries(fields)) {
    if (!key.startsWith('cmdstat_')) continue;
    const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
    const usec = Number(/usec=(\d+)/.exec(value)?.[1] ?? 0);
    commands.set(key.slice('cmdstat_'.length), { calls, usec });
  }
  return commands;
}

const cpuSeconds = (fields) => Number(fields.used_cpu_user) + Number(fields.used_cpu_sys);

/** Bytes Redis writes for a RESP2 bulk string of `length` bytes. */
const bulk = (length) => `$${length}\r\n`.length + length + 2;

/** Bytes of the bench's INFO requests, as ioredis sends them. */
const request = (...args) => `*${args.length}\r\n`.length + args.reduce((n, a) => n + bulk(a.length), 0);
const INFO_REQUEST = request('info', 'stats', 'cpu', 'commandstats');
const SAMPLE_MS = 200;

/** Least-squares slope of get(reading) against the reading's time. */
function slope(readings, get) {
  const n = readings.length;
  const mt = readings.reduce((s, r) => s + r.t, 0) / n;
  const my = readings.reduce((s, r) => s + get(r), 0) / n;
  let num = 0;
  let den = 0;
  for (const r of readings) {
    num += (r.t - mt) * (get(r) - my);
    den += (r.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Script invocations, by command name (Lua and functions). */
export const SCRIPT_COMMANDS = ['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'fcall_ro'];

/**
 * Measures one Redis between `reset()` and `read()`: commands (those run inside scripts included,
 * as Redis counts them), script invocations, CPU time of the server process, bytes in and out, and
 * pub/sub messages with their deliveries. The bench's own commands and the test subscriber's bytes
 * are taken out of the figures.
 */
export class RedisProbe {
  #admin;
  #listener;
  #messages = 0;
  #messageBytes = 0;
  #channels = new Map();
  #cpuStart = 0;
  #started = 0;
  #own = { infos: 0, in: 0, out: 0 };
  #readings = [];
  #sampler;
  #sampling = Promise.resolve();
  /** CPU µs a second the server spends with nothing to do (its timers), taken out of every figure. */
  idleUsPerSecond = 0;
  /** What every published message said, parsed where it is JSON, for reading trips. */
  published = [];

  constructor(url) {
    this.#admin = new Redis(url, { maxRetriesPerRequest: 1 });
    this.#listener = new Redis(url, { maxRetriesPerRequest: 1 });
    this.#listener.on('pmessageBuffer', (pattern, channel, message) => {
      this.#messages++;
      this.#messageBytes +=
        '*4\r\n'.length +
        bulk('pmessage'.length) +
        bulk(pattern.length) +
        bulk(channel.length) +
        bulk(message.length);
      const name = channel.toString();
      this.#channels.set(name, (this.#channels.get(name) ?? 0) + 1);
      if (this.published.length < 200_000) {
        try {
          this.published.push({ at: performance.now(), channel: name, ...JSON.parse(message.toString()) });
        } catch {
          this.published.push({ at: performance.now(), channel: name });
        }
      }
    });
  }

  /** The messages published since the last call, parsed. */
  takePublished() {
    return this.published.splice(0);
  }

  /** Subscribes the test listener to every channel. */
  async start() {
    await this.#listener.psubscribe('*');
  }

  /** Empties the keys (not the scripts) between scenarios. */
  flush() {
    return this.#admin.flushall();
  }

  /**
   * Starts a measurement: Redis's counters to zero, and the process's CPU time noted. With `sample`,
   * the counters are also read every 200 ms, and `read()` gives each figure's rate from a line fitted
   * through the readings (times the seconds measured): work that comes in periodic rounds is then
   * not over- or under-counted by where the window's two ends fall.
   */
  async reset({ sample = false } = {}) {
    const [[, ok], [, cpu]] = await this.#admin.pipeline().config('RESETSTAT').info('cpu').exec();
    if (ok !== 'OK') throw new Error('CONFIG RESETSTAT failed');
    this.#cpuStart = cpuSeconds(parseInfo(cpu));
    // What the bench itself has sent and been sent since the reset: its INFO cpu (whose request came
    // in with CONFIG RESETSTAT's, before the reset), and both replies.
    this.#own = { infos: 1, in: 0, out: bulk(Buffer.byteLength(cpu)) + '+OK\r\n'.length };
    this.#messages = 0;
    this.#messageBytes = 0;
    this.#channels.clear();
    this.#started = performance.now();
    this.#readings = [this.#reading(undefined, 0)];
    this.#sampling = Promise.resolve();
    if (sample) {
      this.#sampler = setInterval(() => {
        this.#sampling = this.#sampling.then(() => this.#sample()).catch(() => {});
      }, SAMPLE_MS);
    }
  }

  /** Reads INFO now and notes it; the bench's own request and reply are accounted for. */
  async #sample() {
    const text = await this.#admin.info('stats', 'cpu', 'commandstats');
    const t = (performance.now() - this.#started) / 1_000;
    this.#readings.push(this.#reading(parseInfo(text), t));
    this.#own.infos++;
    this.#own.in += INFO_REQUEST;
    this.#own.out += bulk(Buffer.byteLength(text));
  }

  /** One reading, less what the bench sent and received (INFO, CONFIG, the test subscriber's deliveries). */
  #reading(fields, t) {
    if (fields === undefined) {
      return { t, total: 0, cpuUs: 0, bytesIn: 0, bytesOut: 0, commands: new Map() };
    }
    const commands = commandStats(fields);
    const own = this.#own;
    const info = commands.get('info');
    let ownUsec = 0;
    if (info !== undefined) {
      // Each INFO is counted once it has run: those before this one. Their µs are the bench's too.
      ownUsec = info.calls > 0 ? (info.usec * Math.min(own.infos, info.calls)) / info.calls : 0;
      info.calls -= own.infos;
      info.usec -= ownUsec;
      if (info.calls <= 0) commands.delete('info');
    }
    const reset = commands.get('config|resetstat');
    if (reset !== undefined && --reset.calls <= 0) commands.delete('config|resetstat');
    return {
      t,
      total: Number(fields.total_commands_processed) - own.infos - 1,
      cpuUs: (cpuSeconds(fields) - this.#cpuStart) * 1e6 - ownUsec - this.idleUsPerSecond * t,
      bytesIn: Number(fields.total_net_input_bytes) - own.in - INFO_REQUEST,
      bytesOut: Number(fields.total_net_output_bytes) - own.out - this.#messageBytes,
      commands,
    };
  }

  /** Ends a measurement: what Redis did since `reset()`. */
  async read() {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
    await this.#sampling;
    await this.#sample();
    const readings = this.#readings;
    const last = readings.at(-1);
    const seconds = last.t;
    // With readings between the ends, each figure is its fitted rate times the seconds measured.
    const figure = readings.length > 2 ? (get) => slope(readings, get) * seconds : (get) => get(last);
    const commands = new Map();
    const names = new Set(readings.flatMap((r) => [...r.commands.keys()]));
    for (const name of names) {
      const calls = figure((r) => r.commands.get(name)?.calls ?? 0);
      const usec = figure((r) => r.commands.get(name)?.usec ?? 0);
      if (calls > 0) commands.set(name, { calls, usec });
    }
    let usecOfScripts = 0;
    let scripts = 0;
    for (const name of SCRIPT_COMMANDS) {
      scripts += commands.get(name)?.calls ?? 0;
      usecOfScripts += commands.get(name)?.usec ?? 0;
    }
    const channels = [...this.#channels.keys()];
    const counts = channels.length === 0 ? [] : await this.#admin.pubsub('NUMSUB', ...channels);
    let deliveries = 0;
    let subscribers = 0;
    for (let i = 0; i < counts.length; i += 2) {
      const n = Number(counts[i + 1]);
      subscribers = Math.max(subscribers, n);
      deliveries += n * (this.#channels.get(String(counts[i])) ?? 0);
    }
    const publishes = (commands.get('publish')?.calls ?? 0) + (commands.get('spublish')?.calls ?? 0);
    return {
      seconds,
      readings: readings.length,
      commands,
      totalCommands: figure((r) => r.total),
      scripts,
      usecOfScripts,
      cpuUs: Math.max(
        0,
        figure((r) => r.cpuUs),
      ),
      bytesIn: figure((r) => r.bytesIn),
      bytesOut: figure((r) => r.bytesOut),
      publishes,
      messagesSeen: this.#messages,
      deliveries,
      subscribers,
    };
  }

  /**
   * The keys Redis holds, grouped by what follows the breaker's name (`{prefix:name}:counts` is
   * `:counts`), with their type and mean size (fields, members or bytes), from at most `limit` keys.
   */
  async census(limit = 5_000) {
    const keys = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#admin.scan(cursor, 'COUNT', 1_000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0' && keys.length < limit);
    const sample = keys.slice(0, limit);
    const types = (await this.#admin.pipeline(sample.map((key) => ['type', key])).exec()).map(([, t]) => t);
    const SIZE = {
      hash: 'hlen',
      zset: 'zcard',
      set: 'scard',
      list: 'llen',
      string: 'strlen',
      stream: 'xlen',
    };
    const sizes = await this.#admin
      .pipeline(sample.map((key, i) => [SIZE[types[i]] ?? 'exists', key]))
      .exec();
    const groups = new Map();
    for (const [i, key] of sample.entries()) {
      const suffix = key.includes('}') ? key.slice(key.lastIndexOf('}') + 1) : key;
      const group = groups.get(suffix) ?? { keys: 0, type: types[i], size: 0 };
      group.keys++;
      group.size += Number(sizes[i][1]) || 0;
      groups.set(suffix, group);
    }
    return { keys: keys.length, groups };
  }

  /** Measures the server's CPU time while nothing but the probe is connected (and reading). */
  async measureIdle(ms = 1_500) {
    this.idleUsPerSecond = 0;
    await this.reset({ sample: true });
    await wait(ms);
    const { cpuUs, seconds } = await this.read();
    this.idleUsPerSecond = cpuUs / seconds;
  }

  /**
   * CPU time of one simple command on this machine: `clients` connections each sending INCR and
   * awaiting the answer, for `ms` milliseconds. Relates the CPU figures to a count of commands.
   */
  async calibrate(url, { clients = 4, ms = 800 } = {}) {
    const connections = await Promise.all(
      Array.from({ length: clients }, async () => {
        const c = new Redis(url, { maxRetriesPerRequest: 1 });
        await c.ping();
        return c;
      }),
    );
    await this.reset();
    const until = performance.now() + ms;
    await Promise.all(
      connections.map(async (c) => {
        while (performance.now() < until) await c.incr('bench:calibration');
      }),
    );
    const figures = await this.read();
    await Promise.all(connections.map((c) => c.quit()));
    const incr = figures.commands.get('incr')?.calls ?? 0;
    return { commands: incr, cpuUsPerCommand: figures.cpuUs / Math.max(1, incr) };
  }

  async close() {
    await Promise.all([this.#admin.quit(), this.#listener.quit()]).catch(() => {});
  }
}
