// A raw HTTP/1.1 client over node:net for the chaos run: it sends bytes as given, can hang up at any
// moment and in several ways, and reads the answer with a strict parser of its own, so that it sees
// exactly what a gateway put on the wire: whether there was a status line at all, whether the body was
// whole, and whether anything followed it.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: ([^\r\n\0]*))?$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n\0]*?)[ \t]*$/;
const MAX_HEAD_BYTES = 128 * 1024;
/** Bytes of an answer kept for the marker search and the report; answers here are a few KB. */
const KEEP_BYTES = 1024 * 1024;

/** Reads one HTTP/1.1 response from the bytes pushed into it; `state` says how far it got. */
export class ResponseReader {
  state = 'head';
  status = 0;
  reason = '';
  headers = [];
  bodyBytes = 0;
  extraBytes = 0;
  error = '';
  #head;
  #pending = '';
  #framing = null;
  #left = 0;

  constructor({ head = false } = {}) {
    this.#head = head;
  }

  header(name) {
    return this.headers.find(([key]) => key.toLowerCase() === name)?.[1];
  }

  /** `chunk` as a latin1 string: one character per byte. */
  push(chunk) {
    if (this.state === 'done') {
      this.extraBytes += chunk.length;
      return;
    }
    if (this.state === 'invalid') return;
    this.#pending += chunk;
    for (;;) {
      const before = this.#pending.length;
      const state = this.state;
      if (state === 'head') this.#readHead();
      else if (state === 'body') this.#readBody();
      if (this.state === 'done' && this.#pending.length > 0) {
        this.extraBytes += this.#pending.length;
        this.#pending = '';
      }
      if (this.state === state && this.#pending.length === before) return;
      if (this.state === 'done' || this.state === 'invalid') return;
    }
  }

  /** The other side closed: a body that runs to the close is whole, any other unfinished one is not. */
  end() {
    if (this.state === 'body' && this.#framing === 'close') this.state = 'done';
  }

  #fail(error) {
    this.state = 'invalid';
    this.error = error;
  }

  #readHead() {
    const at = this.#pending.indexOf('\r\n\r\n');
    if (at === -1) {
      if (this.#pending.length > MAX_HEAD_BYTES) this.#fail('head too large');
      return;
    }
    const lines = this.#pending.slice(0, at).split('\r\n');
    this.#pending = this.#pending.slice(at + 4);
    const status = STATUS_LINE.exec(lines[0]);
    if (status === null) return this.#fail(`bad status line ${JSON.stringify(lines[0].slice(0, 60))}`);
    const headers = [];
    for (const line of lines.slice(1)) {
      const header = HEADER_LINE.exec(line);
      if (header === null) return this.#fail(`bad header line ${JSON.stringify(line.slice(0, 60))}`);
      headers.push([header[1], header[2]]);
    }
    const code = Number(status[1]);
    // An interim answer (100 Continue) comes before the real one.
    if (code >= 100 && code < 200 && code !== 101) return;
    this.status = code;
    this.reason = status[2] ?? '';
    this.headers = headers;
    this.#frame();
  }

  #frame() {
    const values = (name) => this.headers.filter(([key]) => key.toLowerCase() === name).map(([, v]) => v);
    const encodings = values('transfer-encoding');
    const lengths = values('content-length').flatMap((v) => v.split(',').map((s) => s.trim()));
    if (this.#head || this.status === 204 || this.status === 304) {
      this.state = 'done';
    } else if (encodings.length > 0) {
      if (lengths.length > 0) return this.#fail('both transfer-encoding and content-length');
      if (!/(^|,)\s*chunked\s*$/i.test(encodings.join(',')))
        return this.#fail('transfer-encoding not chunked');
      this.#framing = 'chunked';
      this.#left = -1;
      this.state = 'body';
    } else if (lengths.length > 0) {
      if (!lengths.every((v) => /^\d+$/.test(v) && v === lengths[0])) return this.#fail('bad content-length');
      this.#framing = 'length';
      this.#left = Number(lengths[0]);
      this.state = this.#left === 0 ? 'done' : 'body';
    } else {
      this.#framing = 'close';
      this.state = 'body';
    }
  }

  #readBody() {
    if (this.#framing === 'close') {
      this.bodyBytes += this.#pending.length;
      this.#pending = '';
    } else if (this.#framing === 'length') {
      const take = Math.min(this.#left, this.#pending.length);
      this.bodyBytes += take;
      this.#left -= take;
      this.#pending = this.#pending.slice(take);
      if (this.#left === 0) this.state = 'done';
    } else {
      this.#readChunk();
    }
  }

  #readChunk() {
    if (this.#left > 0) {
      const take = Math.min(this.#left, this.#pending.length);
      this.bodyBytes += take;
      this.#left -= take;
      this.#pending = this.#pending.slice(take);
      if (this.#left === 0) this.#left = -2;
      return;
    }
    if (this.#left === -2) {
      if (this.#pending.length < 2) return;
      if (!this.#pending.startsWith('\r\n')) return this.#fail('chunk not followed by CRLF');
      this.#pending = this.#pending.slice(2);
      this.#left = -1;
      return;
    }
    if (this.#left === -3) {
      // Trailers, up to an empty line.
      const at = this.#pending.indexOf('\r\n');
      if (at === -1) return;
      const line = this.#pending.slice(0, at);
      this.#pending = this.#pending.slice(at + 2);
      if (line === '') this.state = 'done';
      return;
    }
    const at = this.#pending.indexOf('\r\n');
    if (at === -1) {
      if (this.#pending.length > 1_024) this.#fail('chunk size line too long');
      return;
    }
    const size = /^([0-9a-fA-F]{1,8})(?:;[^\r\n]*)?$/.exec(this.#pending.slice(0, at));
    if (size === null) return this.#fail('bad chunk size line');
    this.#pending = this.#pending.slice(at + 2);
    const length = parseInt(size[1], 16);
    this.#left = length === 0 ? -3 : length;
  }
}

/**
 * Sends `bytes` to 127.0.0.1:`port` and reads the answer. `hangup` ({ afterMs, how }) ends the exchange
 * from this side at that moment unless the answer is whole by then: `close`, `reset` (RST),
 * `half-close` (FIN, still reading) or `partial-request` (only part of the request is ever sent, then
 * close). `closeWaitMs`: how long to wait after a whole answer for the server to close, to catch
 * anything it sends after it. Never rejects.
 */
export function exchange({ port, bytes, head = false, hangup, limitMs, closeWaitMs }) {
  return new Promise((resolve) => {
    const began = performance.now();
    const reader = new ResponseReader({ head });
    const socket = net.connect({ port, host: '127.0.0.1' });
    let kept = '';
    let connectedAt;
    let headAt;
    let doneAt;
    let ended = false;
    let error = '';
    let hungUp = null;
    let outcome = null;
    const timers = [];
    const later = (ms, fn) => timers.push(setTimeout(fn, Math.max(0, ms)));

    const finish = (result) => {
      if (outcome !== null) return;
      outcome = result;
      for (const timer of timers) clearTimeout(timer);
      socket.destroy();
      resolve({
        outcome,
        status: reader.status,
        reason: reader.reason,
        headers: reader.headers,
        fallback: reader.header('x-fallback'),
        parseError: reader.error,
        bodyBytes: reader.bodyBytes,
        extraBytes: reader.extraBytes,
        connectMs: connectedAt === undefined ? null : connectedAt - began,
        headMs: headAt === undefined ? null : headAt - began,
        totalMs: (doneAt ?? performance.now()) - began,
        hungUp,
        error,
        serverClosed: ended,
        raw: kept,
      });
    };
    const settle = () => {
      if (reader.state === 'invalid') return finish('malformed');
      if (reader.state === 'done') return finish(reader.extraBytes > 0 ? 'extra' : 'answered');
      if (hungUp !== null) return finish('abandoned');
      if (reader.status === 0) return finish('no-answer');
      return finish('truncated');
    };

    socket.setNoDelay(true);
    socket.once('connect', () => {
      connectedAt = performance.now();
    });
    const partial = hangup?.how === 'partial-request';
    socket.write(partial ? bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))) : bytes);
    socket.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      if (kept.length < KEEP_BYTES) kept += text.slice(0, KEEP_BYTES - kept.length);
      const wasHead = reader.state === 'head';
      reader.push(text);
      if (wasHead && reader.status !== 0) headAt = performance.now();
      if (reader.state === 'invalid') return settle();
      if (reader.state === 'done' && doneAt === undefined) {
        doneAt = performance.now();
        // A whole answer: wait for the close, to see whether anything follows it.
        later(closeWaitMs, settle);
      }
    });
    socket.on('end', () => {
      ended = true;
      reader.end();
      if (reader.state === 'done') doneAt ??= performance.now();
      settle();
    });
    socket.on('error', (e) => {
      error = e.code ?? e.message;
      settle();
    });
    socket.on('close', settle);
    if (hangup) {
      later(hangup.afterMs, () => {
        if (reader.state === 'done' || outcome !== null) return;
        hungUp = { how: hangup.how, afterMs: hangup.afterMs, hadStatus: reader.status !== 0 };
        if (hangup.how === 'half-close') return socket.end();
        if (hangup.how === 'reset') socket.resetAndDestroy();
        settle();
      });
    }
    later(limitMs, () => {
      if (reader.state === 'done') finish('answered');
      else finish(hungUp === null ? 'hung' : 'abandoned');
    });
  });
}

/** `text` as bytes, one byte per character (the requests here are built byte by byte). */
export const latin1 = (text) => Buffer.from(text, 'latin1');
