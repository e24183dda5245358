// How the partner misbehaves, one request at a time. The marker (a string unique to the run) goes only
// into texts a gateway must keep to itself: error bodies, status messages and headers of failing
// answers, and heads a client could never parse. A successful body, even one cut short, never holds it,
// since streaming it on is what a proxy is for.
import { PARTNER_HANG_LIMIT_MS, SLOW_BODY, pick } from './plan.mjs';

/** The body of a healthy answer: JSON, about 1 KB, without the marker. */
export function okBody(path) {
  return JSON.stringify({ path, price: 42, items: Array.from({ length: 24 }, (_, i) => `item-${i}`) });
}

const okHead = (fields) => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${fields}\r\n`;

/** Status lines and heads that no HTTP/1.1 parser may accept. */
const invalidHeads = (marker) => [
  `HTTP/1.1 2x0 ${marker}\r\ncontent-length: 0\r\n\r\n`,
  `${marker}\r\n\r\n`,
  `HTTP/1.1 200 OK\r\n${marker}\r\ncontent-length: 2\r\n\r\n{}`,
  `HTTP/1.1 1000 ${marker}\r\ncontent-length: 0\r\n\r\n`,
  `\x16\x03\x01\x00\xa5${marker}\r\n\r\n`,
];

/** Heads over any sane size limit: one huge header, or thousands of small ones. */
function hugeHead(marker, random) {
  if (random() < 0.5) return `HTTP/1.1 200 OK\r\nx-partner-debug: ${marker}${'x'.repeat(70_000)}\r\n\r\n`;
  let head = 'HTTP/1.1 200 OK\r\n';
  for (let i = 0; i < 3_000; i++) head += `x-partner-${i}: ${marker}\r\n`;
  return `${head}content-length: 2\r\n\r\n{}`;
}

/**
 * Answers `req` with `fault` (`ok` for a healthy answer). `pending` holds the timers of answers still
 * under way, so that a stopping partner can end them; each removes itself when its socket closes.
 */
export function answer(fault, { req, res, marker, random, pending }) {
  const socket = req.socket;
  const later = (ms, fn) => {
    const timer = setTimeout(() => {
      pending.delete(timer);
      fn();
    }, ms);
    pending.add(timer);
    socket.once('close', () => {
      clearTimeout(timer);
      pending.delete(timer);
    });
  };
  const raw = (text) => {
    socket.write(Buffer.from(text, 'latin1'));
    socket.end();
  };
  const body = okBody(req.url);
  switch (fault) {
    case 'ok':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return res.end(body);
    case 'reset-before':
      return random() < 0.5 ? socket.resetAndDestroy() : socket.destroy();
    case 'reset-during': {
      // Part of the body, or none: the head alone, and the partner dies a moment later.
      const part = random() < 0.5 ? body.slice(0, 300) : '';
      socket.write(okHead(`content-length: ${body.length * 4}\r\n`) + part);
      const reset = random() < 0.5;
      return later(15, () => (reset ? socket.resetAndDestroy() : socket.destroy()));
    }
    case 'hang':
      return later(PARTNER_HANG_LIMIT_MS, () => socket.destroy());
    case 'slow-body': {
      const size = Math.ceil(body.length / SLOW_BODY.chunks);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      const send = (i) => {
        if (res.destroyed) return;
        if (i === SLOW_BODY.chunks - 1) return res.end(body.slice(i * size));
        res.write(body.slice(i * size, (i + 1) * size));
        later(SLOW_BODY.everyMs, () => send(i + 1));
      };
      return send(0);
    }
    case 'burst-5xx': {
      const status = pick(random, [500, 502, 503, 504]);
      const text = `Error: ${marker} lost its database connection\n    at query (/srv/partner/db.js:42:7)\n`;
      const headers = {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(text),
        'x-partner-debug': marker,
      };
      if (status === 503 && random() < 0.5) headers['retry-after'] = '1';
      res.writeHead(status, `Partner ${marker} failure`, headers);
      return res.end(text);
    }
    case 'invalid-status':
      return raw(pick(random, invalidHeads(marker)));
    case 'huge-headers':
      return raw(hugeHead(marker, random));
    case 'early-close': {
      // The head, perhaps a first chunk, then a clean close: at once, or a moment later.
      const head =
        random() < 0.5
          ? okHead(`content-length: ${body.length}\r\n`)
          : `${okHead('transfer-encoding: chunked\r\n')}40\r\n${body.slice(0, 64)}\r\n`;
      if (random() < 0.5) return raw(head);
      socket.write(Buffer.from(head, 'latin1'));
      return later(30, () => socket.end());
    }
    default:
      throw new Error(`unknown fault ${fault}`);
  }
}
