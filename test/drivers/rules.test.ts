// The failure rules: what each driver's errors count as, how users extend the tables, and what hostile input
// does to them. The Redis errors are real ones, from the machine's Redis and a port nothing listens on.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, InvalidOptionError } from '@breaker/core';
import * as drivers from '@breaker/drivers';
import { driverRules, mysql, mysqlRules, pg, pgRules, redis, redisRules } from '@breaker/drivers';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code, severity: 'ERROR' });
const mysqlError = (code: string, sqlState: string, fatal = false) =>
  Object.assign(new Error(code), { code, sqlState, errno: 1, fatal });
const systemError = (code: string) =>
  Object.assign(new Error(`connect ${code}`), { code, syscall: 'connect' });

describe('pg rules', () => {
  it.each([
    ['08006', 'fault'], // connection_failure
    ['53300', 'fault'], // too_many_connections
    ['57P01', 'fault'], // admin_shutdown (pg_terminate_backend)
    ['57P02', 'fault'],
    ['57P03', 'fault'], // cannot_connect_now
    ['57014', 'fault'], // query_canceled: statement_timeout
    ['58030', 'fault'],
    ['XX000', 'fault'],
    ['25006', 'fault'], // read_only_sql_transaction, on a standby
    ['23505', 'caller'], // unique_violation
    ['23503', 'caller'],
    ['42601', 'caller'], // syntax_error
    ['42501', 'caller'], // insufficient_privilege
    ['42P01', 'caller'], // undefined_table
    ['22P02', 'caller'], // invalid_text_representation
    ['40001', 'contention'], // serialization_failure
    ['40P01', 'contention'], // deadlock_detected
    ['55P03', 'contention'], // lock_not_available
  ] as const)('%s is %s', (code, verdict) => {
    expect(pg.classify(pgError(code))).toBe(verdict);
    expect(pg.isFailure(pgError(code))).toBe(verdict === 'fault');
  });

  it('counts connection errors from Node.js, on the error or its cause', () => {
    expect(pg.classify(systemError('ECONNREFUSED'))).toBe('fault');
    expect(pg.classify(new Error('wrapped', { cause: systemError('ECONNRESET') }))).toBe('fault');
    expect(pg.classify(systemError('EAI_AGAIN'))).toBe('fault');
  });

  it('counts what no table names, as every error counts by default', () => {
    // node-postgres reports a lost connection and a connect timeout without a code.
    expect(pg.classify(new Error('Connection terminated unexpectedly'))).toBeUndefined();
    expect(pg.isFailure(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(pg.isFailure(pgError('ZZ999'))).toBe(true);
  });
});

describe('mysql2 rules', () => {
  it.each([
    ['PROTOCOL_CONNECTION_LOST', '', 'fault'],
    ['ER_CON_COUNT_ERROR', '08004', 'fault'], // too many connections
    ['ER_OPTION_PREVENTS_STATEMENT', 'HY000', 'fault'], // --read-only
    ['ER_SERVER_SHUTDOWN', '08S01', 'fault'],
    ['ER_QUERY_INTERRUPTED', '70100', 'fault'],
    ['ER_STATEMENT_TIMEOUT', '70100', 'fault'],
    ['ER_LOCK_DEADLOCK', '40001', 'contention'],
    ['ER_LOCK_WAIT_TIMEOUT', 'HY000', 'contention'],
    ['ER_DUP_ENTRY', '23000', 'caller'],
    ['ER_PARSE_ERROR', '42000', 'caller'],
    ['ER_NO_SUCH_TABLE', '42S02', 'caller'],
    ['ER_TABLEACCESS_DENIED_ERROR', '42000', 'caller'],
    ['ER_SOME_NEW_CONSTRAINT', '23000', 'caller'], // by its SQLSTATE class
    ['ER_SOME_NEW_LINK_ERROR', '08S01', 'fault'],
  ] as const)('%s (%s) is %s', (code, sqlState, verdict) => {
    expect(mysql.classify(mysqlError(code, sqlState))).toBe(verdict);
  });

  it('names nothing by the general SQLSTATE HY000, so an unknown general error counts', () => {
    expect(mysql.classify(mysqlError('ER_SOMETHING', 'HY000'))).toBeUndefined();
    expect(mysql.isFailure(mysqlError('ER_SOMETHING', 'HY000'))).toBe(true);
  });
});

describe('ioredis rules, on real errors', () => {
  it('tells a caller error from a connection error', async () => {
    const client = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 0 });
    const key = `breaker:drivers:rules:${process.pid}:${Date.now()}`;
    try {
      await client.connect();
      await client.set(key, 'a string', 'PX', 10_000);
      const wrongType = await client.lpush(key, 'x').catch((error: unknown) => error);
      expect(redis.classify(wrongType)).toBe('caller');
      const badCommand = await client.call('NO-SUCH-COMMAND').catch((error: unknown) => error);
      expect(redis.classify(badCommand)).toBe('caller');
    } finally {
      await client.del(key);
      client.disconnect();
    }

    // A port nothing listens on: refused, then given up after no retry.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => {});
    const refused = await down.get('x').catch((error: unknown) => error);
    down.disconnect();
    expect(redis.isFailure(refused)).toBe(true);
    expect(redis.classify(Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' }))).toBe(
      'fault',
    );
  });

  it('reads the error type an error reply starts with', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(redis.classify(reply('LOADING Redis is loading the dataset in memory'))).toBe('fault');
    expect(redis.classify(reply("READONLY You can't write against a read only replica."))).toBe('fault');
    expect(redis.classify(reply('CLUSTERDOWN The cluster is down'))).toBe('fault');
    expect(redis.classify(reply('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(
      'caller',
    );
    // Only a reply's first word, and only when it is an error type.
    expect(redis.classify(reply('loading lower case'))).toBeUndefined();
    expect(
      redis.classify(Object.assign(new Error('LOADING but not a reply'), { name: 'Error' })),
    ).toBeUndefined();
  });
});

describe('extending the rules', () => {
  it('adds or replaces entries without changing the defaults', () => {
    const strict = pgRules({ codes: { '23505': 'fault' }, contention: 'failure' });
    expect(strict.classify(pgError('23505'))).toBe('fault');
    expect(strict.isFailure(pgError('40001'))).toBe(true);
    expect(pg.classify(pgError('23505'))).toBe('caller');
    expect(pg.isFailure(pgError('40001'))).toBe(false);
    const more = strict.extend({ sqlstateClasses: { '22': 'fault' } });
    expect(more.classify(pgError('22P02'))).toBe('fault');
    expect(more.classify(pgError('23505'))).toBe('fault'); // kept from `strict`
    expect(more.isFailure(pgError('40P01'))).toBe(true);
    expect(
      mysqlRules({ codes: { ER_LOCK_DEADLOCK: 'fault' } }).classify(mysqlError('ER_LOCK_DEADLOCK', '40001')),
    ).toBe('fault');
    expect(
      redisRules({ codes: { ERR: 'fault' } }).isFailure(
        Object.assign(new Error('ERR max number of clients reached'), { name: 'ReplyError' }),
      ),
    ).toBe(true);
  });

  it('publishes its tables frozen, for users to read', () => {
    expect(pg.tables.sqlstateClasses['08']).toBe('fault');
    expect(Object.isFrozen(pg.tables.codes)).toBe(true);
    expect(() => {
      (pg.tables.codes as Record<string, string>)['23505'] = 'fault';
    }).toThrow(TypeError);
  });

  it('builds rules for another driver from tables', () => {
    const rules = driverRules(
      'tedious',
      { code: (error) => (error as { code?: string }).code, sqlstate: () => undefined },
      { codes: { ETIMEOUT: 'fault', EREQUEST: 'caller' }, sqlstateClasses: {}, systemCodes: {}, names: {} },
    );
    expect(rules.isFailure(Object.assign(new Error('x'), { code: 'EREQUEST' }))).toBe(false);
    expect(rules.isFailure(Object.assign(new Error('x'), { code: 'ETIMEOUT' }))).toBe(true);
  });

  it('refuses a bad table or option with a TypeError that names it', () => {
    const refused = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect(error).toBeInstanceOf(TypeError);
        return (error as InvalidOptionError).option;
      }
      throw new Error('not refused');
    };
    expect(refused(() => pgRules({ codes: { '23505': 'fatal' as 'fault' } }))).toBe('codes.23505');
    expect(refused(() => pgRules({ contention: 'retry' as 'ignore' }))).toBe('contention');
    expect(refused(() => pgRules({ codez: {} } as never))).toBe('codez');
    expect(refused(() => mysqlRules({ codes: [] as never }))).toBe('codes');
    expect(refused(() => pg.extend({ names: { X: 1 as never } }))).toBe('names.X');
  });
});

describe('hostile errors', () => {
  it('never throws into the breaker, whatever is thrown', async () => {
    const hostile = [
      null,
      undefined,
      42,
      'ECONNREFUSED',
      Symbol('x'),
      { code: 12 },
      { code: '__proto__' },
      { code: 'constructor', sqlState: 'toString' },
      Object.create(null),
      new Proxy(
        {},
        {
          get() {
            throw new Error('trap');
          },
        },
      ),
      Object.defineProperty(new Error('getter'), 'code', {
        get() {
          throw new Error('trap');
        },
      }),
      { name: 'ReplyError', message: 'x'.repeat(100_000) },
    ];
    for (const rules of [pg, mysql, redis]) {
      for (const value of hostile) {
        expect(() => rules.isFailure(value)).not.toThrow();
        expect(rules.isFailure(value)).toBe(true); // names nothing: counts
      }
    }
    const breaker = new CircuitBreaker({ name: 'hostile', isFailure: pg.isFailure, failureThreshold: 100 });
    for (const value of hostile) await breaker.fire(() => Promise.reject(value)).catch(() => {});
    expect(breaker.stats().counts.failures).toBe(hostile.length);
  });
});

describe('the README', () => {
  it('shows every table as the code has it', () => {
    const readme = readFileSync(new URL('../../packages/drivers/README.md', import.meta.url), 'utf8');
    const sections = [...readme.matchAll(/<!-- table: (\w+) -->\s*\n((?:\|.*\n)+)/g)];
    const names = sections.map(([, name]) => name);
    expect(names).toEqual([
      'PG_SQLSTATE_CLASSES',
      'PG_SQLSTATES',
      'MYSQL_CODES',
      'MYSQL_SQLSTATE_CLASSES',
      'REDIS_ERROR_TYPES',
      'REDIS_ERROR_NAMES',
      'NETWORK_CODES',
    ]);
    for (const [, name, table] of sections) {
      const shown: Record<string, string> = {};
      for (const row of table!.split('\n').slice(2)) {
        const [, verdict, entries] = /^\| (\w+)\s*\| (.*) \|$/.exec(row) ?? [];
        if (verdict === undefined) continue;
        // Each entry is the first code span of a comma-separated item: `08` (connection exception), …
        for (const [, key] of entries!.matchAll(/(?:^|, )`([^`]+)`/g)) shown[key!] = verdict;
      }
      expect(shown, name).toEqual({ ...(drivers as unknown as Record<string, object>)[name!] });
    }
  });
});
