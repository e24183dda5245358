import http from 'node:http';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { call, countsOf, expressGateway, partner, statsOf, until, type Reply } from './gateway.js';
import { countUpload, reply, resetMidBody, streamBytes } from './partner.js';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * Peak rise of `heapUsed`, and of `arrayBuffers`, over their values at the start, sampled every
 * 10 ms while `work` runs. Buffers live outside the heap and spent ones linger until a collection,
 * so `arrayBuffers` is read after one: what remains is what the streams still hold.
 */
async function peakMemoryRise<T>(
  work: () => Promise<T>,
): Promise<{ result: T; heap: number; buffers: number }> {
  collectGarbage();
  const start = process.memoryUsage();
  let heap = start.heapUsed;
  let buffers = start.arrayBuffers;
  // Retained memory, after a full collection: often enough to see a buffered body, seldom enough that the
  // collections leave the stream time to flow.
  const sample = (): void => {
    heap = Math.max(heap, process.memoryUsage().heapUsed);
    collectGarbage();
    buffers = Math.max(buffers, process.memoryUsage().arrayBuffers);
  };
  const sampler = setInterval(sample, 40);
  try {
    const result = await work();
    return { result, heap: heap - start.heapUsed, buffers: buffers - start.arrayBuffers };
  } finally {
    clearInterval(sampler);
  }
}

const MB = 1024 * 1024;

describe('proxy(): large bodies', () => {
  const SIZE = 50 * MB;

  it('streams a 50 MB upload to the partner without buffering it', async () => {
    const upstream = await partner(countUpload());
    const gateway = await expressGateway(upstream);
    const { result, heap, buffers } = await peakMemoryRise(
      () =>
        new Promise<Reply>((resolve, reject) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port: gateway.port,
              path: '/partner/upload',
              method: 'POST',
              headers: { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) },
              agent: false,
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (body += chunk));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            },
          );
          req.on('error', reject);
          req.setTimeout(10_000, () => req.destroy(new Error('upload stalled')));
          const chunk = Buffer.alloc(64 * 1024, 0x75);
          let sent = 0;
          const pump = (): void => {
            while (sent < SIZE) {
              sent += chunk.length;
              if (!req.write(chunk)) {
                req.once('drain', pump);
                return;
              }
            }
            req.end();
          };
          pump();
        }),
    );
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ bytes: SIZE });
    expect(upstream.seen[0]!.headers['content-length']).toBe(String(SIZE));
    expect(heap).toBeLessThan(25 * MB);
    expect(buffers).toBeLessThan(25 * MB);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });

  it('streams a 50 MB download to the client without buffering it', async () => {
    const upstream = await partner(streamBytes(SIZE));
    const gateway = await expressGateway(upstream);
    const { result, heap, buffers } = await peakMemoryRise(
      () =>
        new Promise<{ status: number; bytes: number; length: string | undefined }>((resolve, reject) => {
          const req = http.get(
            { host: '127.0.0.1', port: gateway.port, path: '/partner/download', agent: false },
            (res) => {
              let bytes = 0;
              res.on('data', (chunk: Buffer) => (bytes += chunk.length));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, bytes, length: res.headers['content-length'] }),
              );
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.setTimeout(10_000, () => req.destroy(new Error('download stalled')));
        }),
    );
    expect(result).toEqual({ status: 200, bytes: SIZE, length: String(SIZE) });
    expect(heap).toBeLessThan(25 * MB);
    expect(buffers).toBeLessThan(25 * MB);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });

  it('forwards an upload sent with Expect: 100-continue', async () => {
    const upstream = await partner(countUpload());
    const gateway = await expressGateway(upstream);
    const body = 'x'.repeat(2 * MB);
    const res = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: gateway.port,
          path: '/partner/upload',
          method: 'PUT',
          headers: { 'content-length': String(body.length), expect: '100-continue' },
          agent: false,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
          );
        },
      );
      req.on('continue', () => req.end(body));
      req.on('error', reject);
      req.setTimeout(5_000, () => req.destroy(new Error('no answer')));
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ bytes: body.length });
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 1, failures: 0 });
  });
});

describe('proxy(): faults mid-stream', () => {
  it('cancels the partner request when the client goes away mid-download, and counts it neither way', async () => {
    const upstream = await partner(streamBytes(20 * MB, 64 * 1024, 5));
    const gateway = await expressGateway(upstream);
    const received = await new Promise<number>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: gateway.port, path: '/partner/slow', agent: false },
        (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes >= 256 * 1024) {
              req.destroy();
              resolve(bytes);
            }
          });
        },
      );
      req.on('error', (error) => {
        if (!req.destroyed) reject(error);
      });
      req.setTimeout(5_000, () => req.destroy(new Error('download stalled')));
    });
    expect(received).toBeLessThan(20 * MB);
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    await until(() => {
      const counts = countsOf(gateway.handler);
      return counts.successes + counts.failures + counts.ignored > 0;
    });
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
    expect(statsOf(gateway.handler).state).toBe('closed');

    upstream.route = reply(200, 'still here');
    expect((await call(gateway.port, '/partner/after')).body).toBe('still here');
  });

  it('cancels the partner request when the client goes away before the answer starts', async () => {
    const upstream = await partner(() => {});
    const gateway = await expressGateway(upstream);
    const req = http.get({ host: '127.0.0.1', port: gateway.port, path: '/partner/hang', agent: false });
    req.on('error', () => {});
    expect(await until(() => upstream.seen.length === 1)).toBe(true);
    req.destroy();
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    await until(() => countsOf(gateway.handler).ignored > 0);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
  });

  it('cancels the partner request when the client goes away mid-upload, and counts it neither way', async () => {
    const upstream = await partner(countUpload());
    const gateway = await expressGateway(upstream);
    const req = http.request({
      host: '127.0.0.1',
      port: gateway.port,
      path: '/partner/upload',
      method: 'POST',
      headers: { 'content-length': String(10 * MB) },
      agent: false,
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(1 * MB, 0x75));
    expect(await until(() => upstream.seen.length === 1)).toBe(true);
    req.destroy();
    expect(await until(() => upstream.cutShort === 1)).toBe(true);
    await until(() => {
      const counts = countsOf(gateway.handler);
      return counts.successes + counts.failures + counts.ignored > 0;
    });
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 0, ignored: 1 });
  });

  it('ends the client response when the partner resets mid-body, and records a failure', async () => {
    const declared = 1 * MB;
    const upstream = await partner(resetMidBody(declared, 16 * 1024));
    const gateway = await expressGateway(upstream);
    const outcome = await new Promise<{ bytes: number; ending: string }>((resolve) => {
      let bytes = 0;
      const req = http.get(
        { host: '127.0.0.1', port: gateway.port, path: '/partner/flaky', agent: false },
        (res) => {
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.on('end', () => resolve({ bytes, ending: 'end' }));
          res.on('aborted', () => resolve({ bytes, ending: 'aborted' }));
          res.on('error', () => resolve({ bytes, ending: 'error' }));
          res.on('close', () => resolve({ bytes, ending: 'close' }));
        },
      );
      req.on('error', () => resolve({ bytes, ending: 'request error' }));
      req.setTimeout(3_000, () => resolve({ bytes, ending: 'hang' }));
    });
    expect(outcome.ending).not.toBe('hang');
    expect(outcome.bytes).toBeLessThan(declared);
    expect(await until(() => countsOf(gateway.handler).failures === 1)).toBe(true);
    expect(countsOf(gateway.handler)).toMatchObject({ successes: 0, failures: 1 });

    upstream.route = reply(200, 'recovered');
    expect((await call(gateway.port, '/partner/again')).body).toBe('recovered');
  });
});
