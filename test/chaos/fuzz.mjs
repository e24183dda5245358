// Fuzzing both proxies with raw requests: random bytes in the method, the request target (mostly under
// /proxy) and the headers, sometimes with a body, built from a seeded PRNG so that case `index` of seed
// `seed` is always the same bytes. Each case must end in well-formed HTTP answers (any status but 500,
// no stack trace, nothing of the partner's) or a clean close, within a bounded time.
import { FUZZ_CASE_LIMIT_MS, FUZZ_CONCURRENCY, GATEWAYS, pick, prng } from './plan.mjs';
import { ResponseReader, exchange, latin1 } from './wire.mjs';

const METHODS = ['GET', 'GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
// Not PRI: Node's own parser waits for the rest of an HTTP/2 preface, with any server in front of it.
const ODD_METHODS = ['get', 'CONNECT', 'TRACE', 'G\x00T', 'GET\t', 'M-SEARCH', 'X'.repeat(300)];
/** Pieces of a request target that an HTTP parser lets through: the proxy has to deal with them. */
const PATH_PIECES = [
  '/',
  '/a',
  '/orders',
  '/..',
  '/../..',
  '/%2e%2e',
  '/%2E.',
  '/.',
  '//',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%00',
  '%',
  '%zz',
  '%e0%a4%a',
  '?',
  '?q=%00&x=1',
  '#frag',
  ';',
  '\x80',
  '\xff',
  '\xc3\xa9',
  '\xf0\x9f\x92\xa5',
  '@',
  ':',
  '*',
  '~',
  '"',
  '<',
  '{',
  '|',
  'http://evil.example/',
  '/@evil.example',
  '/../api/1',
  '/..%2f..%2fapi',
  '/%2e%2e%2f',
  '/a/../../..',
  `/${'a'.repeat(9_000)}`,
];
/** Bytes a parser refuses in a request target. */
const WILD_PIECES = [' ', '\t', '\x00', '\x01', '\x7f', '\r', '\n'];
const TARGET_OVERRIDES = [
  'http://evil.example/proxy/x',
  '//evil.example/proxy',
  '*',
  '',
  'proxy/x',
  '/proxy',
  '/proxy?',
  '/PROXY/x',
  '/proxy%2f..%2fapi/1',
  '/proxy/..%2f..%2fapi',
  '/proxy/../api/1',
];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'];
const WILD_VERSIONS = ['HTTP/2.0', 'http/1.1', 'HTTP/1.10', 'HTTP/1.1 ', 'HTTP/0.9', ''];
const HEADER_NAMES = [
  'host',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'forwarded',
  'connection',
  'transfer-encoding',
  'content-length',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'cookie',
  'accept-encoding',
  'content-type',
  'x-request-id',
  'retry-after',
  'X-'.repeat(200),
];
const WILD_NAMES = ['x a', 'x:a', '', 'x\x00', '\xe9t\xe9', '(x)'];
const VALUES = [
  'close',
  'keep-alive, x-request-id',
  'upgrade',
  'te, host, x-forwarded-for',
  'x-forwarded-for, cookie',
  'chunked',
  'gzip, chunked',
  'chunked, gzip',
  'identity',
  '100-continue',
  'h2c',
  'websocket',
  '0',
  '5',
  '-1',
  '1e3',
  '10, 10',
  '5, 6',
  ' 7',
  '18446744073709551616',
  '127.0.0.1',
  'evil.example',
  'evil.example:1',
  '\x80\xff',
  '\xc3\xa9',
  '',
  ' ',
  'x'.repeat(10_000),
  'x'.repeat(20_000),
];
const WILD_VALUES = ['a\rb', 'a\nb', 'a\r\n b', '\x00', '\x7f', 'chunked\x00'];

/** `length` random bytes: any byte when `wild`, else printable ASCII, tab and bytes over 0x7f. */
function randomBytes(random, length, wild) {
  let out = '';
  for (let i = 0; i < length; i++) {
    const byte = Math.floor(random() * 256);
    out += String.fromCharCode(
      wild || byte === 9 || (byte >= 0x20 && byte !== 0x7f) ? byte : 0x20 + (byte % 0x5f),
    );
  }
  return out;
}

const token = (random, length) => {
  const chars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let out = '';
  for (let i = 0; i < length; i++) out += chars[Math.floor(random() * chars.length)];
  return out;
};

/** The length a `Content-Length` value declares, as a lenient parser reads it (`7`, ` 7 `, `5, 5`). */
function declaredLength(value) {
  const parts = value.split(',').map((part) => part.trim());
  if (!parts.every((part) => /^\d{1,4}$/.test(part) && part === parts[0])) return undefined;
  return Number(parts[0]);
}

/** One of `plain`, or now and then, when `wild`, one of `odd`. */
const choose = (random, wild, plain, odd) =>
  wild && random() < 0.3 ? pick(random, odd) : pick(random, plain);

/**
 * Case `index` of `seed`: which gateway it goes to, its bytes, and whether it is a HEAD request. Most
 * cases are requests a parser accepts, with odd targets and headers, so that they reach the proxy; one in
 * four is wild, with bytes no parser should accept anywhere.
 */
export function fuzzCase(seed, index) {
  const random = prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const gateway = GATEWAYS[index % GATEWAYS.length];
  const wild = random() < 0.25;
  const method = choose(random, wild, METHODS, ODD_METHODS);
  let target;
  if (random() < 0.12) {
    target = pick(random, TARGET_OVERRIDES);
  } else {
    target = '/proxy';
    const pieces = 1 + Math.floor(random() * 6);
    for (let i = 0; i < pieces; i++) {
      target +=
        random() < 0.85
          ? choose(random, wild, PATH_PIECES, WILD_PIECES)
          : randomBytes(random, 1 + Math.floor(random() * 6), wild);
    }
    // Random bytes of a plain case may hold a space or a tab, which would end the target early.
    if (!wild) target = target.replace(/[ \t]/g, '_');
  }
  // Traffic ids are /api/<digits> and /proxy/<digits>: a fuzz case never looks like one.
  if (/^\/(api|proxy)\/\d+$/.test(target)) target += '~';
  const eol = () => (wild && random() < 0.1 ? pick(random, ['\n', '\r']) : '\r\n');
  let text = `${method} ${target} ${choose(random, wild, VERSIONS, WILD_VERSIONS)}${eol()}`;
  if (random() < 0.9) text += `Host: 127.0.0.1${eol()}`;
  let length;
  let chunked = false;
  const headers = Math.floor(random() * 7);
  for (let i = 0; i < headers; i++) {
    const name =
      random() < 0.85
        ? choose(random, wild, HEADER_NAMES, WILD_NAMES)
        : token(random, 1 + Math.floor(random() * 8));
    const value =
      random() < 0.8
        ? choose(random, wild, VALUES, WILD_VALUES)
        : randomBytes(random, Math.floor(random() * 40), wild);
    // The body a parser will wait for: a case must never hang only because it left its body out.
    if (name.toLowerCase() === 'content-length') length ??= declaredLength(value);
    if (name.toLowerCase() === 'transfer-encoding' && /chunked[ \t]*$/i.test(value)) chunked = true;
    text += `${name}: ${value}${eol()}`;
  }
  if (random() < 0.7) text += 'Connection: close\r\n';
  text += '\r\n';
  if (chunked) text += random() < 0.7 ? '5\r\nhello\r\n0\r\n\r\n' : `zz\r\n${randomBytes(random, 8, true)}`;
  else if (length !== undefined)
    text += randomBytes(random, Math.max(0, length + pick(random, [0, 0, 0, 2])), true);
  else if (random() < 0.05) text += randomBytes(random, 16, true);
  return { gateway, bytes: latin1(text), head: method === 'HEAD', wild };
}

// A V8 or Node stack frame, as an error page that shows a stack would have it.
const STACK = /\bat [^\n<>]*\(?(?:\/|node:|file:)[^\n)]*:\d+:\d+\)?/;

/**
 * Every answer in `raw`, one after another: bytes after a request's body are read as a request of their
 * own, which gets an answer of its own (only the first answers the case's method).
 */
function answersIn(raw, head) {
  const answers = [];
  let rest = raw;
  while (rest.length > 0 && answers.length < 10) {
    const reader = new ResponseReader({ head: head && answers.length === 0 });
    reader.push(rest);
    reader.end();
    answers.push(reader);
    if (reader.state !== 'done') break;
    rest = rest.slice(rest.length - reader.extraBytes);
  }
  return answers;
}

/** What one case came to: `ok` with its class, or not ok with the rule it broke. */
export function judge(result, head, marker) {
  if (result.outcome === 'hung') return { ok: false, verdict: 'no answer nor close within the limit' };
  if (result.raw.includes(marker)) return { ok: false, verdict: "the partner's marker reached the client" };
  if (STACK.test(result.raw)) return { ok: false, verdict: 'a stack trace reached the client' };
  if (result.raw.length === 0) {
    if (result.error === '' || result.error === 'EPIPE')
      return { ok: true, verdict: 'closed without an answer' };
    return { ok: true, verdict: `closed without an answer (${result.error})` };
  }
  const answers = answersIn(result.raw, head);
  // The first answer must be whole; a later one may be cut where the client stopped reading.
  const broken = answers.find((reader, i) =>
    i === 0 ? reader.state !== 'done' : reader.state === 'invalid',
  );
  if (broken !== undefined) {
    const what = broken.state === 'invalid' ? `a malformed answer (${broken.error})` : 'an answer cut short';
    return { ok: false, verdict: what };
  }
  if (answers.some((reader) => reader.status === 500)) return { ok: false, verdict: 'a 500' };
  return { ok: true, verdict: answers.map((reader) => reader.status).join(' + ') };
}

/** Runs `cases` cases against both gateways' proxies, a few at a time; never rejects for a failed case. */
export async function runFuzz({ ports, seed, cases, marker, signal, alive }) {
  const began = Date.now();
  const outcome = { seed, cases: 0, byVerdict: {}, failures: [], failed: 0, durationMs: 0, maxCaseMs: 0 };
  let next = 0;
  const worker = async () => {
    while (next < cases && !signal.aborted) {
      const index = next++;
      const { gateway, bytes, head } = fuzzCase(seed, index);
      const result = await exchange({
        port: ports[gateway],
        bytes,
        head,
        limitMs: FUZZ_CASE_LIMIT_MS,
        closeWaitMs: 100,
      });
      const verdict = judge(result, head, marker);
      if (verdict.ok && !alive(gateway))
        Object.assign(verdict, { ok: false, verdict: `the ${gateway} gateway died` });
      outcome.cases++;
      outcome.maxCaseMs = Math.max(outcome.maxCaseMs, result.totalMs);
      const key = verdict.ok ? verdict.verdict : `FAILED: ${verdict.verdict}`;
      outcome.byVerdict[key] = (outcome.byVerdict[key] ?? 0) + 1;
      if (verdict.ok) continue;
      outcome.failed++;
      if (outcome.failures.length < 20) {
        outcome.failures.push({
          index,
          gateway,
          verdict: verdict.verdict,
          request: JSON.stringify(bytes.toString('latin1').slice(0, 600)),
          answer: JSON.stringify(result.raw.slice(0, 600)),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: FUZZ_CONCURRENCY }, worker));
  outcome.durationMs = Date.now() - began;
  return outcome;
}
