import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Clock, TimerHandle } from '@breaker/core';

/** A partner's answer on its way to the client. */
export interface PartnerAnswer {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Readable;
}

/** How long the status line may wait for the first body chunk: `ms` on `clock`. */
export interface Hold {
  clock: Clock;
  ms: number;
}

/** The partner's body failed before anything of its answer reached the client. */
export class EarlyFailure {
  readonly error: unknown;

  constructor(error: unknown) {
    this.error = error;
  }
}

const HELD_TOO_LONG = Symbol('held too long');

/**
 * Streams a partner's answer to the client. Node sends a status line only with the first write, so the
 * status and headers wait for the first body chunk (or the body's end, or the hold): until then nothing
 * has reached the client, and a partner that fails leaves the proxy free to answer something else,
 * which it is told through the returned {@link EarlyFailure}. Once the status is out, a failure cuts the
 * client's connection: it sees the status, then a truncated body.
 */
export async function relay(
  answer: PartnerAnswer,
  res: ServerResponse,
  hold: Hold,
): Promise<EarlyFailure | undefined> {
  const { body } = answer;
  // Between the reads below the body has no other listener: its error waits for the next reader.
  body.on('error', ignore);
  // Mostly the first chunk came in the same packet as the headers, and is waiting already.
  let held: Buffer | null | typeof HELD_TOO_LONG =
    body.readableLength > 0 ? (body.read() as Buffer | null) : null;
  const first = held === null ? firstChunk(body) : undefined;
  if (first !== undefined) {
    try {
      held = await within(first, hold);
    } catch (error) {
      return new EarlyFailure(error);
    }
  }
  res.writeHead(answer.status, answer.headers);
  try {
    if (held === HELD_TOO_LONG && first !== undefined) {
      // Past the hold the client at least learns the status while the partner takes its time.
      res.flushHeaders();
      held = await first;
    }
    if (held === null) {
      res.end();
      return undefined;
    }
    res.write(held);
    await pipe(body, res);
  } catch {
    // The partner failed mid-body (the breaker counted it) or the client left: end both sides.
    body.destroy();
    res.destroy();
  }
  return undefined;
}

/**
 * Pipes the rest of the body into the response: resolves once the response has finished, rejects when
 * either side fails or closes first. (Node's `stream.pipeline` does the same with an AbortController
 * per call that it aborts at the end, which costs more than the rest of a small answer's relay.)
 */
function pipe(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      body.off('error', settle);
      body.off('close', onBodyClose);
      res.off('error', settle);
      res.off('close', onResClose);
      res.off('finish', onFinish);
      if (error === undefined) resolve();
      else {
        body.unpipe(res);
        reject(error);
      }
    };
    const onFinish = (): void => settle();
    const onBodyClose = (): void => {
      if (!body.readableEnded) settle(body.errored ?? prematureClose());
    };
    const onResClose = (): void => {
      if (!res.writableFinished) settle(clientClosed());
    };
    body.on('error', settle);
    body.on('close', onBodyClose);
    res.on('error', settle);
    res.on('close', onResClose);
    res.on('finish', onFinish);
    body.pipe(res);
  });
}

function clientClosed(): Error {
  return new Error('The client closed the connection before the answer ended.');
}

/**
 * The body's first chunk, `null` for an empty body, or its error. The body is paused on that chunk, to
 * be piped on from there.
 */
function firstChunk(body: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (body.readableEnded) return resolve(null);
    if (body.destroyed) return reject(body.errored ?? prematureClose());
    const settle = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      body.pause();
      settle();
      resolve(chunk);
    };
    const onEnd = (): void => {
      settle();
      resolve(null);
    };
    const onError = (error: Error): void => {
      settle();
      reject(error);
    };
    const onClose = (): void => {
      settle();
      reject(body.errored ?? prematureClose());
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

function prematureClose(): Error {
  return new Error('The partner body closed before it ended.');
}

function ignore(): void {}

/** `promise`'s outcome, or {@link HELD_TOO_LONG} once the hold has passed; the timer never outlives it. */
async function within<T>(promise: Promise<T>, hold: Hold): Promise<T | typeof HELD_TOO_LONG> {
  const { clock, ms } = hold;
  let timer: TimerHandle | undefined;
  const expired = new Promise<typeof HELD_TOO_LONG>((resolve) => {
    timer = clock.setTimeout(() => resolve(HELD_TOO_LONG), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}
