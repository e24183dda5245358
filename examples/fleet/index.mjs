// Three gateway replicas in front of one partner, sharing the partner's breaker through Redis.
// Only replica 1 takes traffic while the partner fails; when it trips, replicas 2 and 3 fail fast
// too, without ever having called the failing partner. Uses REDIS_URL, or starts a private
// redis-server on a free port.
import { fork, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

const started = Date.now();
const clock = () => `${((Date.now() - started) / 1000).toFixed(2).padStart(5)}s`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let redisProcess;
let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  const port = await freePort();
  redisProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  redisProcess.on('error', () => {
    console.error('This example needs redis-server on the PATH, or REDIS_URL pointing at a Redis.');
    process.exit(1);
  });
  redisUrl = `redis://127.0.0.1:${port}`;
  await sleep(300);
}

// The partner fails from 1 s to 5 s.
let partnerCalls = 0;
const partner = http.createServer((_req, res) => {
  partnerCalls++;
  const age = Date.now() - started;
  if (age > 1_000 && age < 5_000) res.writeHead(500).end();
  else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ price: 42 }));
});
await new Promise((resolve) => partner.listen(0, '127.0.0.1', resolve));
const partnerUrl = `http://127.0.0.1:${partner.address().port}/quote`;

const gatewayPath = new URL('./gateway.mjs', import.meta.url);
const replicas = await Promise.all(
  [1, 2, 3].map(
    (replica) =>
      new Promise((resolve) => {
        const child = fork(gatewayPath, {
          env: { ...process.env, PARTNER_URL: partnerUrl, REDIS_URL: redisUrl, REPLICA: String(replica) },
        });
        child.on('message', (message) => {
          if (message.port) resolve({ replica, child, port: message.port });
          else
            console.log(
              `${clock()}  replica ${message.replica}: breaker ${message.from} → ${message.to} (${message.reason})`,
            );
        });
      }),
  ),
);
console.log(
  `Redis ${redisUrl.replace(/\/\/[^@]*@/, '//')}, partner fails from 1.0 s to 5.0 s; replicas on ports ${replicas.map((r) => r.port).join(', ')}\n`,
);

async function ask(replica) {
  const res = await fetch(`http://127.0.0.1:${replica.port}/quote`);
  await res.arrayBuffer();
  return res.status;
}

// Replica 1 takes steady traffic; replicas 2 and 3 are asked once a second.
for (let tick = 0; tick < 80; tick++) {
  const status = await ask(replicas[0]);
  if (tick % 10 === 0) {
    const others = await Promise.all(replicas.slice(1).map(ask));
    console.log(
      `${clock()}  answers: replica 1 → ${status}, replica 2 → ${others[0]}, replica 3 → ${others[1]}`,
    );
  }
  await sleep(100);
}

console.log(`\nThe partner was called ${partnerCalls} times in all.`);
for (const { child } of replicas) child.disconnect();
await sleep(200);
partner.close();
redisProcess?.kill();
