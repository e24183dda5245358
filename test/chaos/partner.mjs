// The fault-injecting partner behind both gateways, in its own process so that its load never skews the
// runner's timing. Started with a JSON config ({ port, marker, seed }); the runner sets its mode over IPC
// ({ mode, ratio }): `up` answers every request, a fault mode gives that fault to a `ratio` share of the
// requests, `mixed` a random fault to each, and `refused` closes the listening port (and every connection)
// until the next mode. Each fault given to a traffic request is recorded by the request's id, which the
// gateways keep in the path, so the runner can tell what each client's answer was an answer to.
import http from 'node:http';
import { answer } from './faults.mjs';
import { FAULTS, pick, prng } from './plan.mjs';

const config = JSON.parse(process.argv[2]);
const random = prng(config.seed);
const TRAFFIC = /^\/(api|proxy)\/(express|koa)\/(\d+)$/;
// `dropped`: a request still being answered when the partner closed its port and every connection.
const FAULT_CODES = ['ok', ...FAULTS, 'dropped'];
// A closed port refuses a whole connection, not one request: `mixed` draws from the others.
const PER_REQUEST = FAULTS.filter((fault) => fault !== 'refused');
const RECORDED_LIMIT = 2_000_000;

let mode = 'up';
let ratio = 0;
let listening = false;
const calls = { byFault: {}, byGateway: {}, other: 0, relistenFailures: 0 };
/** Faults given per request id, as codes into FAULT_CODES; a retried request has several. */
const given = new Map();
const pending = new Set();
const sockets = new Set();
/** The traffic request each connection is answering, until its answer is finished. */
const answering = new Map();

function record(id, fault) {
  if (given.size >= RECORDED_LIMIT && !given.has(id)) return;
  const code = FAULT_CODES.indexOf(fault);
  const before = given.get(id);
  given.set(id, before === undefined ? code : [before, code].flat());
}

function chooseFault() {
  if (mode === 'up') return 'ok';
  if (mode === 'mixed') return random() < ratio ? pick(random, PER_REQUEST) : 'ok';
  return random() < ratio ? mode : 'ok';
}

const server = http.createServer((req, res) => {
  const fault = chooseFault();
  calls.byFault[fault] = (calls.byFault[fault] ?? 0) + 1;
  const match = TRAFFIC.exec(req.url ?? '');
  if (match === null) {
    calls.other++;
  } else {
    const key = `${match[2]} ${match[1]}`;
    calls.byGateway[key] = (calls.byGateway[key] ?? 0) + 1;
    const id = Number(match[3]);
    record(id, fault);
    answering.set(req.socket, id);
    res.once('finish', () => answering.delete(req.socket));
  }
  answer(fault, { req, res, marker: config.marker, random, pending });
});
server.keepAliveTimeout = 5_000;
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.once('close', () => {
    sockets.delete(socket);
    answering.delete(socket);
  });
});
server.on('clientError', (_error, socket) => socket.destroy());

function dropEverything() {
  for (const timer of pending) clearTimeout(timer);
  pending.clear();
  for (const socket of sockets) {
    const id = answering.get(socket);
    if (id !== undefined) record(id, 'dropped');
    socket.destroy();
  }
}

/** Listens on the configured port, trying again for up to 2 s while something else holds it. */
function listen() {
  return new Promise((resolve) => {
    const attempt = (left) => {
      const onListening = () => {
        server.off('error', onError);
        listening = true;
        resolve(true);
      };
      const onError = () => {
        server.off('listening', onListening);
        calls.relistenFailures++;
        if (left === 0) resolve(false);
        else setTimeout(() => attempt(left - 1), 20);
      };
      server.once('listening', onListening);
      server.once('error', onError);
      server.listen(config.port, '127.0.0.1');
    };
    attempt(100);
  });
}

async function setMode(next, nextRatio) {
  if (next === 'refused' && listening) {
    listening = false;
    await new Promise((resolve) => {
      server.close(() => resolve());
      dropEverything();
    });
  } else if (next !== 'refused' && !listening) {
    await listen();
  }
  mode = next;
  ratio = nextRatio;
}

let queue = Promise.resolve();
process.on('message', (message) => {
  if (message?.type === 'mode') {
    queue = queue.then(async () => {
      await setMode(message.mode, message.ratio);
      process.send?.({ type: 'mode', at: Date.now(), listening, id: message.id });
    });
  } else if (message?.type === 'stats') {
    process.send?.({ type: 'stats', calls, hung: pending.size, id: message.id });
  } else if (message?.type === 'given') {
    process.send?.({ type: 'given', codes: FAULT_CODES, given: [...given], id: message.id });
  }
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  dropEverything();
  if (process.connected) process.disconnect();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The runner is gone (killed, crashed): nobody will ever stop us otherwise.
process.on('disconnect', stop);

if (await listen()) process.send?.({ type: 'ready', port: config.port });
else process.exit(2);
