// The partner API behind the gateway replicas, in its own process so that its load never skews the
// runner's timing. The runner sets its mode over IPC: "up" answers 200 at once, "error" answers 500,
// "hang" accepts the request and never answers.
import http from 'node:http';

// A hung request that nobody hangs up on is dropped after this long, so the process stays bounded.
const HANG_LIMIT_MS = 30_000;

let mode = 'up';
const calls = { up: 0, error: 0, hang: 0 };
const hung = new Set();

const server = http.createServer((req, res) => {
  calls[mode]++;
  if (mode === 'up') {
    const body = JSON.stringify({ path: req.url, price: 42 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else if (mode === 'error') {
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"partner failed"}');
  } else {
    const timer = setTimeout(() => req.socket.destroy(), HANG_LIMIT_MS);
    const entry = { req, timer };
    hung.add(entry);
    req.socket.once('close', () => {
      clearTimeout(timer);
      hung.delete(entry);
    });
  }
});
server.keepAliveTimeout = 5_000;

process.on('message', (message) => {
  if (message?.type === 'mode') {
    mode = message.mode;
    process.send?.({ type: 'mode', mode, at: Date.now(), id: message.id });
  } else if (message?.type === 'stats') {
    process.send?.({ type: 'stats', calls, hung: hung.size, id: message.id });
  }
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  for (const { req, timer } of hung) {
    clearTimeout(timer);
    req.socket.destroy();
  }
  if (process.connected) process.disconnect();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The runner is gone (killed, crashed): nobody will ever stop us otherwise.
process.on('disconnect', stop);

server.listen(0, '127.0.0.1', () => process.send?.({ type: 'ready', port: server.address().port }));
