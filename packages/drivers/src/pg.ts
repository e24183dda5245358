import { connect } from 'node:net';
import type { CircuitBreaker } from '@breaker/core';
import { fireGuarded, resolveGuard, runHeld, type GuardOptions, type QueryOptions } from './guard.js';
import { pg } from './tables.js';

/** What the guard needs of a node-postgres client (`pg.PoolClient`). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<unknown>;
  release(destroy?: Error | boolean): void;
  on?(event: 'error', listener: (error: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
}

/** What the guard needs of a node-postgres pool (`pg.Pool`). */
export interface PgPoolLike<C extends PgClientLike = PgClientLike> {
  connect(): Promise<C>;
}

/** node-postgres's `QueryResult`: the rows, typed by the caller (`db.query<{ id: number }>(…)`). */
export interface PgQueryResult<Row = Record<string, unknown>> {
  command: string;
  rowCount: number | null;
  oid: number;
  fields: { name: string; dataTypeID: number }[];
  rows: Row[];
}

export interface GuardedPgPool<C extends PgClientLike = PgClientLike> {
  /** Runs one query through the breaker, on a client of the pool; cancelled on the server if abandoned. */
  query<Row = Record<string, unknown>>(
    text: string,
    values?: unknown[],
    options?: QueryOptions,
  ): Promise<PgQueryResult<Row>>;
  readonly breaker: CircuitBreaker;
  /** The pool, as given. */
  readonly pool: PgPoolLike<C>;
}

/** The connection facts node-postgres keeps on a client (not in its types). */
interface PgConnectionFacts {
  processID?: unknown;
  secretKey?: unknown;
  host?: unknown;
  port?: unknown;
  ssl?: unknown;
}

const CANCEL_REQUEST_CODE = 80877102;
const CANCEL_SOCKET_TIMEOUT = 2_000;

/**
 * Sends PostgreSQL's CancelRequest for the client's backend, on a connection of its own: it needs no free
 * client of the pool and no login. Resolves whether or not it got through; a query it could not stop is dealt
 * with by the grace period.
 */
function sendCancelRequest(client: PgConnectionFacts): Promise<boolean> {
  const { processID, secretKey, host, port } = client;
  if (!Number.isInteger(processID) || !Number.isInteger(secretKey) || typeof host !== 'string') {
    return Promise.resolve(false);
  }
  if (client.ssl !== undefined && client.ssl !== false && client.ssl !== null) return Promise.resolve(false);
  const portNumber = Number(port ?? 5432);
  return new Promise((resolve) => {
    const socket = host.startsWith('/')
      ? connect({ path: `${host}/.s.PGSQL.${portNumber}` })
      : connect({ host, port: portNumber });
    const timer = setTimeout(() => socket.destroy(), CANCEL_SOCKET_TIMEOUT);
    timer.unref();
    let sent = false;
    socket.on('connect', () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      packet.writeInt32BE(processID as number, 8);
      packet.writeInt32BE(secretKey as number, 12);
      socket.end(packet, () => (sent = true));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(sent);
    });
  });
}

/**
 * Guards a node-postgres pool with a breaker. Each `query` takes a client, runs the query with the breaker's
 * rules (`pg.isFailure` by default) and gives the client back. A query the breaker gave up on (at
 * `callTimeout`) or whose caller aborted is cancelled on the server with a CancelRequest; a client whose query
 * has not ended `cancelGrace` ms later is destroyed instead of going back to the pool.
 */
export function guardPg<C extends PgClientLike>(
  pool: PgPoolLike<C>,
  options: GuardOptions,
): GuardedPgPool<C> {
  if (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function') {
    throw new TypeError('guardPg(pool, options): pool must be a pg Pool (an object with connect()).');
  }
  const guard = resolveGuard('pg', pg, options);
  const { breaker } = guard;

  function run<Row>(
    text: string,
    values: unknown[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<PgQueryResult<Row>> {
    return pool.connect().then((client) => onClient<Row>(client, text, values, signal));
  }

  function onClient<Row>(
    client: C,
    text: string,
    values: unknown[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<PgQueryResult<Row>> {
    if (signal?.aborted === true) {
      client.release();
      return Promise.reject(signal.reason as Error);
    }
    return runHeld(
      {
        connection: client,
        start: () => client.query(text, values) as Promise<PgQueryResult<Row>>,
        cancel: () => void sendCancelRequest(client as PgConnectionFacts).catch(() => false),
        end: (error, lost, cancelled) => {
          // An error the server answered leaves the connection usable, unless it is the server going away;
          // anything else may have lost the connection: it must not go back. After a cancel, only a query
          // that ended by it (57014) goes back: a CancelRequest still on its way would stop the next one.
          const answered = sqlstateOf(error) !== undefined && pg.classify(error) !== 'fault';
          const usable = cancelled
            ? !lost && isQueryCanceled(error)
            : !lost && (error === undefined || answered || isQueryCanceled(error));
          client.release(usable ? undefined : error instanceof Error ? error : true);
        },
        destroy: () => client.release(new Error('the query did not end after it was cancelled')),
      },
      signal,
      guard,
    );
  }

  return Object.freeze({
    breaker,
    pool,
    query<Row = Record<string, unknown>>(
      text: string,
      values?: unknown[],
      queryOptions?: QueryOptions,
    ): Promise<PgQueryResult<Row>> {
      return fireGuarded(breaker, queryOptions?.signal, (signal) => run<Row>(text, values, signal));
    },
  });
}

/** The SQLSTATE of an error the server sent (it has a severity), not of a Node.js one such as EBADF. */
function sqlstateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code)
    ? code
    : undefined;
}

function isQueryCanceled(error: unknown): boolean {
  return sqlstateOf(error) === '57014';
}
