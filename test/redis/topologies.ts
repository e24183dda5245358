import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, until } from './server.js';

const HOST = '127.0.0.1';
const SLOT_COUNT = 16384;
const SENTINEL_NAME = 'mymaster';

export interface Address {
  host: string;
  port: number;
}

export interface RedisNode extends Address {
  process: ChildProcess;
}

/** Three masters and three replicas in Redis Cluster mode, on private loopback ports. */
export interface TestCluster {
  /** Every node, masters and replicas, shaped as ioredis `Cluster` startup nodes. */
  nodes: Address[];
  /** The master that owns the key's slot, as seen by a live node. */
  masterFor(key: string): Promise<RedisNode>;
  /** SIGKILLs the master owning the key's slot; resolves with its port once the process is gone. */
  killMaster(key: string): Promise<number>;
  /** Resolves once every live node reports cluster_state:ok and agrees a live master owns the key's slot. */
  waitForFailover(key: string, timeoutMs?: number): Promise<void>;
  /** Kills every process and removes the working directory; safe to call more than once. */
  stop(): Promise<void>;
}

/** One master, one replica and three Sentinels watching them, on private loopback ports. */
export interface TestSentinel {
  sentinels: Address[];
  name: string;
  /** The master's port as of start-up or the last completed failover. */
  readonly masterPort: number;
  /** SIGKILLs the master the Sentinels currently report. */
  killMaster(): Promise<void>;
  /** Resolves with the new master's port once every live Sentinel reports it and it answers ROLE as master. */
  waitForFailover(timeoutMs?: number): Promise<number>;
  /** Kills every process and removes the working directory; safe to call more than once. */
  stop(): Promise<void>;
}

export async function startCluster(): Promise<TestCluster> {
  const group = new ProcessGroup(await mkdtemp(path.join(os.tmpdir(), 'breaker-cluster-')));
  try {
    const all = await launchAll(6, () =>
      launch(group, 'cluster node', async (port) => [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(group.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '1000',
        // Ephemeral ports go up to 60999, so the default bus port (port + 10000) may not exist.
        '--cluster-port',
        String(await freePortOtherThan(port)),
        // A replica whose link has been down for a while must still be allowed to take over at once.
        '--cluster-replica-validity-factor',
        '0',
        ...dataArgs(port, group.dir),
      ]),
    );
    await createCluster(all);
    await eventually('the cluster to cover every slot with each master replicated', 20_000, () =>
      clusterHealthy(all),
    );

    const live = () => all.filter((node) => !exited(node.process));
    const anyLive = () => {
      const node = live()[0];
      if (!node) throw new Error('every cluster node is dead');
      return node;
    };
    const keySlot = async (key: string) => Number(await call(anyLive().port, 'CLUSTER', 'KEYSLOT', key));
    const masterFor = async (key: string) => {
      const slot = await keySlot(key);
      const asker = anyLive();
      const port = await slotOwner(asker.port, slot);
      const owner = all.find((node) => node.port === port);
      if (!owner)
        throw new Error(`node ${asker.port} reports no known master for slot ${slot} (got ${port})`);
      return owner;
    };

    return {
      nodes: all.map(({ host, port }) => ({ host, port })),
      masterFor,
      async killMaster(key) {
        const master = await masterFor(key);
        await group.kill(master.process);
        return master.port;
      },
      async waitForFailover(key, timeoutMs = 20_000) {
        const slot = await keySlot(key);
        await eventually(`a live master to take over slot ${slot} (key "${key}")`, timeoutMs, async () => {
          const owners = new Set<number | undefined>();
          for (const node of live()) {
            const state = field(String(await call(node.port, 'CLUSTER', 'INFO')), 'cluster_state');
            if (state !== 'ok') return `node ${node.port} reports cluster_state:${state}`;
            owners.add(await slotOwner(node.port, slot));
          }
          if (owners.size !== 1) return `live nodes disagree on the owner of slot ${slot}: ${[...owners]}`;
          const [port] = owners;
          const owner = live().find((node) => node.port === port);
          if (!owner) return `slot ${slot} is still assigned to dead node ${port}`;
          const role = (await call(owner.port, 'ROLE')) as unknown[];
          return role[0] === 'master' || `node ${owner.port} owns slot ${slot} but its ROLE is ${role[0]}`;
        });
      },
      stop: () => group.stop(),
    };
  } catch (error) {
    await group.stop();
    throw error;
  }
}

export async function startSentinel(): Promise<TestSentinel> {
  const group = new ProcessGroup(await mkdtemp(path.join(os.tmpdir(), 'breaker-sentinel-')));
  try {
    const master = await launch(group, 'master', (port) => dataArgs(port, group.dir));
    const replica = await launch(group, 'replica', (port) => [
      ...dataArgs(port, group.dir),
      '--replicaof',
      HOST,
      String(master.port),
    ]);
    await eventually(`replica ${replica.port} to sync with master ${master.port}`, 10_000, async () => {
      const link = field(String(await call(replica.port, 'INFO', 'replication')), 'master_link_status');
      return link === 'up' || `master_link_status:${link}`;
    });
    // Sentinels learn of replicas from the master's INFO, which they re-read only every 10 s once connected;
    // starting them after the replica is attached lets the first read already list it.
    const sentinels = await launchAll(3, () =>
      launch(group, 'sentinel', async (port) => {
        const file = path.join(group.dir, `sentinel-${port}.conf`);
        await writeFile(
          file,
          [
            `port ${port}`,
            `bind ${HOST}`,
            `sentinel monitor ${SENTINEL_NAME} ${HOST} ${master.port} 2`,
            `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
            `sentinel failover-timeout ${SENTINEL_NAME} 5000`,
            `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
            '',
          ].join('\n'),
        );
        // Sentinel only reads its settings from a file given as the first argument, and rewrites that file.
        return [file, '--sentinel'];
      }),
    );
    await eventually('the Sentinels to know the master, the replica and each other', 20_000, async () => {
      for (const sentinel of sentinels) {
        const known = record(await call(sentinel.port, 'SENTINEL', 'MASTER', SENTINEL_NAME));
        if (known.port !== String(master.port) || known.flags !== 'master') {
          return `sentinel ${sentinel.port} sees master ${known.port} with flags ${known.flags}`;
        }
        const peers = (await call(sentinel.port, 'SENTINEL', 'SENTINELS', SENTINEL_NAME)) as unknown[];
        if (peers.length !== 2) return `sentinel ${sentinel.port} knows ${peers.length} other Sentinels`;
        const replicas = (
          (await call(sentinel.port, 'SENTINEL', 'REPLICAS', SENTINEL_NAME)) as unknown[]
        ).map(record);
        const seen = replicas.find((entry) => entry.port === String(replica.port));
        if (seen?.flags !== 'slave' || seen['master-link-status'] !== 'ok') {
          return `sentinel ${sentinel.port} sees the replica as ${JSON.stringify(seen ?? null)}`;
        }
      }
      return true;
    });

    const data = [master, replica];
    const reportedMasters = async () => {
      const ports = new Set<number>();
      for (const sentinel of sentinels) {
        if (exited(sentinel.process)) continue;
        const address = (await call(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)) as
          [string, string] | null;
        if (address) ports.add(Number(address[1]));
      }
      return ports;
    };
    let masterPort = master.port;
    let previous = master.port;

    return {
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
      name: SENTINEL_NAME,
      get masterPort() {
        return masterPort;
      },
      async killMaster() {
        const ports = await reportedMasters();
        if (ports.size !== 1) throw new Error(`Sentinels disagree on the current master: ${[...ports]}`);
        const [port] = ports;
        const current = data.find((node) => node.port === port);
        if (!current) throw new Error(`Sentinels report master ${port}, which this topology did not start`);
        previous = current.port;
        await group.kill(current.process);
      },
      async waitForFailover(timeoutMs = 20_000) {
        return eventually(`Sentinels to promote a replica in place of ${previous}`, timeoutMs, async () => {
          const ports = await reportedMasters();
          if (ports.size !== 1) return `Sentinels report different masters: ${[...ports]}`;
          const [port] = [...ports] as [number];
          if (port === previous) return `Sentinels still report ${port}`;
          const promoted = data.find((node) => node.port === port);
          if (!promoted || exited(promoted.process)) return `Sentinels report ${port}, which is not running`;
          const role = (await call(port, 'ROLE')) as unknown[];
          if (role[0] !== 'master') return `Sentinels report ${port}, whose ROLE is still ${role[0]}`;
          masterPort = port;
          return port;
        });
      },
      stop: () => group.stop(),
    };
  } catch (error) {
    await group.stop();
    throw error;
  }
}

/** Every redis-server a topology starts, tracked from spawn so a failure at any step can still kill it. */
class ProcessGroup {
  private readonly children = new Set<ChildProcess>();
  private stopping: Promise<void> | undefined;
  // If the test process dies before stop(), its servers must not outlive it.
  private readonly onExit = () => {
    for (const child of this.children) if (!exited(child)) child.kill('SIGKILL');
  };

  constructor(readonly dir: string) {
    process.on('exit', this.onExit);
  }

  spawn(args: string[]): ChildProcess {
    if (this.stopping) throw new Error('the topology was stopped while it was starting');
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    // A spawn failure shows as a missing pid; without a listener, its 'error' event would crash the run.
    child.on('error', () => {});
    this.children.add(child);
    return child;
  }

  async kill(child: ChildProcess): Promise<void> {
    if (child.pid === undefined || exited(child)) return;
    child.kill('SIGKILL');
    try {
      await until(() => exited(child), 5_000);
    } catch {
      throw new Error(`redis-server ${child.pid} did not exit within 5000 ms of SIGKILL`);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await Promise.all([...this.children].map((child) => this.kill(child)));
      } finally {
        process.off('exit', this.onExit);
        await rm(this.dir, { recursive: true, force: true });
      }
    })();
    return this.stopping;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function dataArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    // By default a master holds a diskless full sync back 5 s for more replicas to join; there are none.
    '--repl-diskless-sync-delay',
    '0',
  ];
}

async function freePortOtherThan(taken: number): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port !== taken) return port;
  }
}

class PortTaken extends Error {}

/**
 * Starts a redis-server on a free port and waits until that very process answers. freePort() only
 * promises the port was free a moment ago, so a server that dies at once is retried on another port.
 */
async function launch(
  group: ProcessGroup,
  role: string,
  argsFor: (port: number) => string[] | Promise<string[]>,
): Promise<RedisNode> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = group.spawn(await argsFor(port));
    if (child.pid === undefined)
      throw new Error(`could not spawn redis-server for the ${role}: is it on PATH?`);
    try {
      await eventually(`the ${role} on port ${port} to answer`, 10_000, async () => {
        if (exited(child)) throw new PortTaken(`the ${role} on port ${port} exited at start-up`);
        const pid = field(String(await call(port, 'INFO', 'server')), 'process_id');
        // Another process that grabbed the port answers too; ours then fails to bind and exits.
        return pid === String(child.pid) || `port ${port} is answered by process ${pid}`;
      });
      return { host: HOST, port, process: child };
    } catch (error) {
      await group.kill(child);
      if (!(error instanceof PortTaken)) throw error;
      if (attempt === 3) throw new Error(`${error.message}, on 3 different ports`);
    }
  }
}

/** Runs the starts side by side and waits for all of them, so none spawns after a failure's cleanup. */
async function launchAll(count: number, start: () => Promise<RedisNode>): Promise<RedisNode[]> {
  const results = await Promise.allSettled(Array.from({ length: count }, start));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<RedisNode>).value);
}

function createCluster(nodes: RedisNode[]): Promise<void> {
  const args = ['--cluster', 'create', ...nodes.map((node) => `${HOST}:${node.port}`)];
  args.push('--cluster-replicas', '1', '--cluster-yes');
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: 30_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const output = `${stdout}${stderr}`.trim().split('\n').slice(-10).join('\n');
      const reason = error.killed
        ? 'did not finish within 30000 ms'
        : `failed (${error.message.split('\n')[0]})`;
      reject(new Error(`redis-cli --cluster create ${reason}${output ? `:\n${output}` : ''}`));
    });
  });
}

async function clusterHealthy(nodes: RedisNode[]): Promise<true | string> {
  let masters = 0;
  for (const node of nodes) {
    const info = String(await call(node.port, 'CLUSTER', 'INFO'));
    for (const [name, expected] of [
      ['cluster_state', 'ok'],
      ['cluster_slots_ok', String(SLOT_COUNT)],
      ['cluster_known_nodes', String(nodes.length)],
    ] as const) {
      const actual = field(info, name);
      if (actual !== expected) return `node ${node.port} reports ${name}:${actual}`;
    }
    const role = (await call(node.port, 'ROLE')) as unknown[];
    if (role[0] === 'master') {
      masters++;
      const replicas = role[2] as unknown[];
      if (replicas.length !== 1) return `master ${node.port} has ${replicas.length} replicas`;
    } else if (role[3] !== 'connected') {
      return `replica ${node.port} link to ${role[2]} is ${role[3]}`;
    }
  }
  return masters === 3 || `${masters} masters instead of 3`;
}

async function slotOwner(askPort: number, slot: number): Promise<number | undefined> {
  const ranges = (await call(askPort, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([first, last]) => first <= slot && slot <= last);
  return range?.[2][1];
}

/** A one-off connection per command: a harness polling dying nodes should not keep sockets or retry. */
async function call(port: number, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1];
}

/** Sentinel replies describe an instance as a flat [name, value, name, value, ...] list. */
function record(reply: unknown): Record<string, string> {
  const list = reply as string[];
  const entries: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) entries[list[i]!] = list[i + 1]!;
  return entries;
}

/**
 * Polls `probe` until it returns something other than a string (a string says why the wait goes on) and
 * resolves with that. Thrown errors count as "not yet", except PortTaken, which ends the wait at once.
 */
async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | string>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last = 'never checked';
  for (;;) {
    try {
      const outcome = await probe();
      if (typeof outcome !== 'string') return outcome;
      last = outcome;
    } catch (error) {
      if (error instanceof PortTaken) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
