// One server of proxy.mjs, in a process of its own (started with child_process.fork):
//   proxy-server.mjs upstream              the partner: GET /small answers 1 KB, GET /large 1 MiB
//   proxy-server.mjs <variant> <port>      an Express gateway proxying /p/* to the partner on <port>
// Variants: `breaker` (@breaker/undici's proxy(), breaker closed), `hpm` (http-proxy-middleware) and
// `pipe` (a bare undici stream into the response, the least a streaming proxy does). It sends its port
// once listening, answers { usage } messages with its CPU time and heap, and exits with its parent.
import { createServer } from 'node:http';
import { proxy } from '@breaker/undici';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { Agent, stream } from 'undici';

const HOST = '127.0.0.1';
const [role, upstreamPort] = process.argv.slice(2);
const SMALL = Buffer.alloc(1024, 'a');
const LARGE = Buffer.alloc(1024 * 1024, 'b');
/** Hop-by-hop headers a proxy must not pass on. */
const HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
]);

function upstream() {
  return createServer((req, res) => {
    const body = req.url === '/large' ? LARGE : SMALL;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
}

function gateway(variant, target) {
  const app = express();
  if (variant === 'breaker') {
    app.use('/p', proxy({ target, name: 'bench', failureThreshold: 1_000_000_000 }));
  } else if (variant === 'hpm') {
    app.use('/p', createProxyMiddleware({ target }));
  } else if (variant === 'pipe') {
    const dispatcher = new Agent();
    app.use('/p', (req, res, next) => {
      stream(`${target}${req.url}`, { method: req.method, dispatcher }, ({ statusCode, headers }) => {
        const passed = {};
        for (const [name, value] of Object.entries(headers)) if (!HOP.has(name)) passed[name] = value;
        res.writeHead(statusCode, passed);
        return res;
      }).catch(next);
    });
  } else {
    throw new Error(`proxy-server: unknown variant ${variant}`);
  }
  return app;
}

if (typeof process.send !== 'function') {
  console.error('proxy-server.mjs is started by proxy.mjs (child_process.fork), not on its own.');
  process.exit(2);
}
const server =
  role === 'upstream' ? upstream() : createServer(gateway(role, `http://${HOST}:${upstreamPort}`));
server.keepAliveTimeout = 30_000;
server.listen(0, HOST, () => process.send({ port: server.address().port }));
process.on('message', (message) => {
  if (message?.usage !== true) return;
  globalThis.gc?.();
  const { user, system } = process.cpuUsage();
  process.send({ usage: { cpuMicros: user + system, heapUsed: process.memoryUsage().heapUsed } });
});
process.on('disconnect', () => process.exit(0));
