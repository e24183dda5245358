// The seed example, unchanged, against a local server that answers JSON.
import { createServer } from 'node:http';
import { CircuitBreaker } from '@breaker/core';

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ partner: 'ok', orders: 3 }));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/data`;

const breaker = new CircuitBreaker({ failureThreshold: 3, successThreshold: 2, timeout: 10000 });
// prettier-ignore
breaker.fire(async () => (await fetch(url)).json())
  .then((data) => console.log('Success:', data))
  .catch((err) => console.error('Breaker Open:', err.message));

// Wait for the call to settle, let the seed's handlers print, then stop the server.
await new Promise((resolve) => {
  for (const event of ['success', 'failure', 'reject']) breaker.on(event, resolve);
});
await new Promise((resolve) => setImmediate(resolve));
server.closeAllConnections();
server.close();
