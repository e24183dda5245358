// A TCP proxy for tests that puts faults between a client (a database driver) and its server. Modes, which
// `mode()` switches at any time, for the connections already open and for new ones alike:
// - pass:   forward bytes both ways unchanged, with backpressure.
// - refuse: accept each new connection and reset it at once (the client sees ECONNRESET); open ones go on.
// - reset:  reset a connection, both sides, when its server sends data beyond `afterBytes` (default 0) more
//           bytes: the query went out, its answer never comes back. Until then a connection is forwarded.
// - stall:  deliver nothing either way: what is read is held (and the socket paused), then delivered in order
//           once the mode changes.
// - slow:   deliver every chunk, either way, `delayMs` (default 200) after it came, in order.
import net from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'reset' | 'stall' | 'slow';

export interface FaultProxy {
  /** Listens on 127.0.0.1, on a port the OS chose. */
  readonly port: number;
  readonly host: '127.0.0.1';
  /** Switches mode, for open connections and new ones. */
  mode(mode: FaultMode, options?: { delayMs?: number; afterBytes?: number }): void;
  /** Resets (RST) every open connection now, and keeps listening. */
  resetAll(): void;
  /** Client connections open now. */
  readonly connections: number;
  /** Client connections accepted since the start, refused ones included. */
  readonly accepted: number;
  /** Stops listening and destroys every socket; resolves once all have closed. */
  close(): Promise<void>;
}

interface Settings {
  mode: FaultMode;
  delayMs: number;
  afterBytes: number;
}

/** One direction of a connection; `flush()` delivers what is due, as the mode allows. */
interface Lane {
  flush(): void;
}

/** A chunk to write, or `null` for the end of the stream, and when it may be written. */
interface Item {
  chunk: Buffer | null;
  due: number;
}

/**
 * Forwards `src` to `dst` through a queue: each chunk waits for its time (slow) or for the mode to change
 * (stall). `src` is paused while stalled or while `dst` is full. `admit` sees each chunk first (`idle` when
 * nothing is queued) and may drop it.
 */
function forward(
  src: net.Socket,
  dst: net.Socket,
  settings: Settings,
  lanes: Set<Lane>,
  admit: (chunk: Buffer, idle: boolean) => boolean,
): void {
  const queue: Item[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    while (settings.mode !== 'stall' && !dst.destroyed && queue.length > 0) {
      const wait = queue[0]!.due - performance.now();
      if (wait > 0) {
        timer = setTimeout(flush, Math.ceil(wait));
        break;
      }
      const { chunk } = queue.shift()!;
      if (chunk) dst.write(chunk);
      else dst.end();
    }
    if (settings.mode === 'stall' || dst.writableNeedDrain) src.pause();
    else src.resume();
  };
  const push = (chunk: Buffer | null): void => {
    queue.push({ chunk, due: performance.now() + (settings.mode === 'slow' ? settings.delayMs : 0) });
    flush();
  };
  const lane: Lane = { flush };
  lanes.add(lane);
  src.on('data', (chunk: Buffer) => {
    if (admit(chunk, queue.length === 0)) push(chunk);
  });
  src.on('end', () => push(null));
  dst.on('drain', flush);
  dst.on('close', () => {
    clearTimeout(timer);
    queue.length = 0;
    lanes.delete(lane);
  });
}

/** Resets a socket (an RST, not a FIN); one still connecting is just destroyed. */
function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const settings: Settings = { mode: 'pass', delayMs: 200, afterBytes: 0 };
  const sockets = new Set<net.Socket>(); // every socket, either side, until it closes
  const lanes = new Set<Lane>();
  const connections = new Set<{ budget: number; reset(): void }>();
  let clients = 0;
  let accepted = 0;

  /** Never throws from a socket: an error on one side destroys the other. */
  const track = (socket: net.Socket, other?: net.Socket): void => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => other?.destroy());
    socket.on('close', () => sockets.delete(socket));
  };

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    clients++;
    client.on('close', () => clients--);
    if (settings.mode === 'refuse') {
      track(client);
      reset(client);
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    track(client, upstream);
    track(upstream, client);
    const connection = {
      budget: settings.afterBytes,
      reset: () => {
        reset(client);
        reset(upstream);
      },
    };
    connections.add(connection);
    client.on('close', () => connections.delete(connection));
    forward(client, upstream, settings, lanes, () => true);
    forward(upstream, client, settings, lanes, (chunk, idle) => {
      if (settings.mode !== 'reset') return true;
      const part = chunk.subarray(0, connection.budget);
      connection.budget -= part.length;
      if (part.length === chunk.length) return true;
      // Over budget: deliver the bytes still allowed (unless older ones are queued), then reset.
      if (part.length > 0 && idle) client.write(part, connection.reset);
      else connection.reset();
      return false;
    });
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    host: '127.0.0.1',
    mode(mode, options = {}) {
      settings.mode = mode;
      settings.delayMs = options.delayMs ?? 200;
      settings.afterBytes = options.afterBytes ?? 0;
      for (const connection of connections) connection.budget = settings.afterBytes;
      for (const lane of lanes) lane.flush();
    },
    resetAll() {
      for (const connection of connections) connection.reset();
    },
    get connections() {
      return clients;
    },
    get accepted() {
      return accepted;
    },
    async close() {
      const closed = [...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
      const stopped = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await Promise.all([stopped, ...closed]);
    },
  };
}
