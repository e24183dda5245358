import { describe, expect, it } from 'vitest';
import { proxy, type ProxyOptions } from '@breaker/undici';
import { call, countsOf, expectProblem, expressGateway, koaGateway, partner, rawCall } from './gateway.js';

describe('proxy(): headers', () => {
  it('streams a GET through with status, body and end-to-end headers, and rewrites the forwarding headers', async () => {
    const upstream = await partner((_req, res) => {
      res.writeHead(203, {
        'content-type': 'text/plain',
        'x-partner': 'yes',
        'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
        connection: 'x-partner-hop',
        'x-partner-hop': 'connection-only',
        'keep-alive': 'timeout=99, max=7',
        'proxy-authenticate': 'Basic realm="partner"',
        trailer: 'x-checksum',
      });
      res.write('hello ');
      setTimeout(() => res.end('from the partner'), 10);
    });
    const gateway = await expressGateway(upstream);
    const res = await rawCall(
      gateway.port,
      [
        'GET /partner/hello/world?x=1&y=two HTTP/1.1',
        'Host: gateway.example:8080',
        'Accept: text/plain',
        'X-Custom: kept',
        'Connection: close, X-Drop-Me',
        'X-Drop-Me: named in Connection',
        'Keep-Alive: timeout=300',
        'TE: trailers',
        'Trailer: X-Checksum',
        'Upgrade: websocket',
        'Proxy-Authorization: Basic c2VjcmV0',
        'Proxy-Connection: keep-alive',
        'X-Forwarded-For: 6.6.6.6',
        'X-Forwarded-Proto: https',
        'X-Forwarded-Host: spoofed.example',
        'Forwarded: for=6.6.6.6;proto=https',
        '',
        '',
      ].join('\r\n'),
    );
    expect(res.status).toBe(203);
    expect(res.body).toBe('hello from the partner');
    expect(res.headers['x-partner']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(res.headers['x-partner-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['proxy-authenticate']).toBeUndefined();
    expect(res.headers.trailer).toBeUndefined();
    expect(res.headers.connection).toBe('close');

    expect(upstream.seen).toHaveLength(1);
    const seen = upstream.seen[0]!;
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/api/hello/world?x=1&y=two');
    expect(seen.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('gateway.example:8080');
    expect(seen.headers.accept).toBe('text/plain');
    expect(seen.headers['x-custom']).toBe('kept');
    for (const dropped of [
      'x-drop-me',
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'proxy-authorization',
      'proxy-connection',
      'forwarded',
    ]) {
      expect(seen.headers[dropped], dropped).toBeUndefined();
    }
    expect(seen.headers.connection ?? '').not.toMatch(/x-drop-me|close/);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });

  it('appends to the forwarding headers of a trusted proxy in front', async () => {
    const upstream = await partner();
    const gateway = await expressGateway(upstream, { trustProxy: true });
    const res = await call(gateway.port, '/partner/x', {
      headers: {
        host: 'internal.example',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'public.example',
        forwarded: 'for=203.0.113.7;proto=https',
      },
    });
    expect(res.status).toBe(200);
    const { headers } = upstream.seen[0]!;
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('https');
    expect(headers['x-forwarded-host']).toBe('public.example');
    expect(headers.forwarded).toBe('for=203.0.113.7;proto=https');
  });

  it('keeps the other X-Forwarded-* headers of a trusted proxy, as trustProxy promises', async () => {
    const upstream = await partner();
    const trusted = await expressGateway(upstream, { trustProxy: true });
    const headers = { 'x-forwarded-port': '443', 'x-forwarded-prefix': '/shop' };
    expect((await call(trusted.port, '/partner/x', { headers })).status).toBe(200);
    const untrusted = await expressGateway(upstream);
    expect((await call(untrusted.port, '/partner/x', { headers })).status).toBe(200);

    expect(upstream.seen[1]!.headers['x-forwarded-port']).toBeUndefined();
    expect(upstream.seen[1]!.headers['x-forwarded-prefix']).toBeUndefined();
    expect(upstream.seen[0]!.headers['x-forwarded-port']).toBe('443');
    expect(upstream.seen[0]!.headers['x-forwarded-prefix']).toBe('/shop');
  });

  const CLIENT_ADDRESS_HEADERS = {
    'x-real-ip': '10.0.0.1',
    'true-client-ip': '10.0.0.2',
    'cf-connecting-ip': '10.0.0.3',
    'x-client-ip': '10.0.0.4',
    'x-cluster-client-ip': '10.0.0.5',
    'fastly-client-ip': '10.0.0.6',
    forwarded: 'for=10.0.0.7',
    'x-forwarded': 'for=10.0.0.8',
    'forwarded-for': '10.0.0.9',
  };

  it('drops the client-IP headers partners believe unless trustProxy, and keeps them if it is set', async () => {
    const upstream = await partner();
    const untrusted = await expressGateway(upstream);
    expect((await call(untrusted.port, '/partner/x', { headers: CLIENT_ADDRESS_HEADERS })).status).toBe(200);
    const trusted = await expressGateway(upstream, { trustProxy: true });
    expect((await call(trusted.port, '/partner/x', { headers: CLIENT_ADDRESS_HEADERS })).status).toBe(200);

    const [dropped, kept] = upstream.seen.map((seen) => seen.headers);
    for (const [name, value] of Object.entries(CLIENT_ADDRESS_HEADERS)) {
      expect(dropped![name], name).toBeUndefined();
      expect(kept![name], name).toBe(value);
    }
    expect(dropped!['x-forwarded-for']).toBe('127.0.0.1');
    expect(JSON.stringify(dropped)).not.toContain('10.0.0.');
  });
});

describe.each([
  ['express', expressGateway],
  ['koa', koaGateway],
] as const)('proxy() in %s: paths', (_name, gatewayFor) => {
  it.each([
    ['/../secret', '/api/secret'],
    ['/%2e%2e/secret', '/api/secret'],
    ['/a/%2E%2E/%2e%2e/secret', '/api/secret'],
    ['/a/./b/.%2E/../../c', '/api/c'],
    ['//evil.example/x', '/api/evil.example/x'],
    ['/../../etc/passwd?q=../x&r=%2F', '/api/etc/passwd?q=../x&r=%2F'],
    ['/', '/api/'],
    ['/dir/', '/api/dir/'],
  ])('keeps %s under the target path as %s', async (requested, expected) => {
    const upstream = await partner();
    const gateway = await gatewayFor(upstream);
    const res = await call(gateway.port, `${gateway.prefix}${requested}`);
    expect(res.status).toBe(200);
    expect(upstream.seen.map((seen) => seen.url)).toEqual([expected]);
  });

  it.each(['/..%2fsecret', '/..%2Fsecret', '/a/..%5csecret', '/a\\..\\secret', '/x%00.json'])(
    'answers 400 to %s without calling the partner',
    async (requested) => {
      const upstream = await partner();
      const gateway = await gatewayFor(upstream);
      const res = await call(gateway.port, `${gateway.prefix}${requested}`);
      expectProblem(res, 400);
      expect(upstream.seen).toHaveLength(0);
    },
  );

  it.each([
    '/..;/admin',
    '/v1/..;/admin',
    '/.;/admin',
    '/a/..;jsessionid=x/admin',
    '/a/.;x=1/b',
    '/%2e%2e;/admin',
    '/%2E%2E%3B/admin',
    '/..%3b/admin',
    '/a/.%2e;/admin',
    '/a/..;',
  ])(
    'answers 400 to the dot segment with path parameters in %s without calling the partner',
    async (requested) => {
      const upstream = await partner();
      const gateway = await gatewayFor(upstream);
      const res = await call(gateway.port, `${gateway.prefix}${requested}`);
      expectProblem(res, 400);
      expect(upstream.seen).toHaveLength(0);
    },
  );

  it('passes on segments that only look like dot segments with parameters', async () => {
    const upstream = await partner();
    const gateway = await gatewayFor(upstream);
    for (const requested of ['/a/...;x', '/a/x..;y', '/a/;x/b', '/a/b;v=1']) {
      expect((await call(gateway.port, `${gateway.prefix}${requested}`)).status, requested).toBe(200);
    }
    expect(upstream.seen.map((seen) => seen.url)).toEqual([
      '/api/a/...;x',
      '/api/a/x..;y',
      '/api/a/;x/b',
      '/api/a/b;v=1',
    ]);
  });

  it('answers 400 to an absolute-form request target without calling the partner', async () => {
    const upstream = await partner();
    const gateway = await gatewayFor(upstream);
    for (const target of [
      `http://evil.example${gateway.prefix}/x`,
      `http://127.0.0.1:${upstream.port}${gateway.prefix}/x`,
    ]) {
      const res = await rawCall(
        gateway.port,
        `GET ${target} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
      );
      expect(res.status, target).toBe(400);
    }
    const backslash = await rawCall(
      gateway.port,
      `GET ${gateway.prefix}/a\\..\\..\\secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expectProblem(backslash, 400);
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('proxy(): options', () => {
  function thrown(options: unknown): TypeError & { option?: string } {
    try {
      proxy(options as ProxyOptions);
    } catch (error) {
      return error as TypeError & { option?: string };
    }
    throw new Error('proxy() accepted the options');
  }

  it.each([
    ['a missing target', {}],
    ['a relative target', { target: '/api' }],
    ['an ftp target', { target: 'ftp://files.example/api' }],
    ['a target with a query', { target: 'http://partner.example/api?key=1' }],
    ['a target with credentials', { target: 'http://user:pw@partner.example/api' }],
  ])('refuses %s, naming `target`', (_what, options) => {
    const error = thrown(options);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('target');
    expect(error.message).toContain('"target"');
    expect(error.message).not.toContain('pw');
  });

  it('refuses a trustProxy that is not a boolean', () => {
    const error = thrown({ target: 'http://partner.example', trustProxy: 'yes' });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('trustProxy');
    expect(error.message).toContain('"trustProxy"');
  });

  it('refuses a fallback or dispatcher of the wrong kind', () => {
    expect(thrown({ target: 'http://partner.example', fallback: 'cached' }).option).toBe('fallback');
    expect(thrown({ target: 'http://partner.example', dispatcher: {} }).option).toBe('dispatcher');
  });

  it('refuses an unknown option with a hint at the right one, naming proxy()', () => {
    const error = thrown({ target: 'http://partner.example', resetTimeout: 5_000 });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('resetTimeout');
    expect(error.message).toContain('resetTimeout');
    expect(error.message).toContain('`timeout`');
    expect(error.message).toContain('proxy()');
  });

  it('refuses `key`, naming it: a proxy keeps one breaker for its target', () => {
    const error = thrown({ target: 'http://partner.example', key: () => 'per-path' });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('key');
    expect(error.message).toContain('"key"');
    expect(error.message).toContain('proxy()');
  });

  it('refuses a bad breaker option, naming it', () => {
    const error = thrown({ target: 'http://partner.example', failureThreshold: 0 });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('failureThreshold');
  });
});
