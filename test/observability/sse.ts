import http, { type IncomingMessage } from 'node:http';

/** One Server-Sent Event. */
export interface ServerEvent {
  event: string;
  data: unknown;
}

/** A Server-Sent Events stream read over real HTTP, event by event. */
export interface EventReader {
  response: IncomingMessage;
  /** The next event, waiting up to `timeoutMs` for it. */
  next(timeoutMs?: number): Promise<ServerEvent>;
  /** The next event named `name`, skipping others. */
  nextOf(name: string, timeoutMs?: number): Promise<ServerEvent>;
  /** Events received and not read yet. */
  readonly queued: number;
  /** Lines starting with ":" (comments) and "retry:" seen so far. */
  readonly fields: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens `url` as an event stream; resolves with the response (any status) once its headers arrive. */
export function readEvents(url: string, headers: Record<string, string> = {}): Promise<EventReader> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => {
      const queue: ServerEvent[] = [];
      const fields: string[] = [];
      let waiter: (() => void) | undefined;
      let buffer = '';
      let endedResolve!: () => void;
      const ended = new Promise<void>((resolveEnd) => (endedResolve = resolveEnd));
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
            else fields.push(line);
          }
          if (data.length > 0) queue.push({ event, data: JSON.parse(data.join('\n')) });
        }
        waiter?.();
      });
      response.on('close', () => {
        endedResolve();
        waiter?.();
      });
      response.on('error', () => {});
      let closed = false;
      const next = async (timeoutMs = 2_000): Promise<ServerEvent> => {
        const deadline = Date.now() + timeoutMs;
        while (queue.length === 0) {
          if (response.destroyed || response.complete) throw new Error('The event stream ended');
          const left = deadline - Date.now();
          if (left <= 0) throw new Error(`No event within ${timeoutMs} ms`);
          await new Promise<void>((wake) => {
            const timer = setTimeout(wake, left);
            waiter = () => {
              clearTimeout(timer);
              wake();
            };
          });
          waiter = undefined;
        }
        return queue.shift()!;
      };
      resolve({
        response,
        next,
        async nextOf(name, timeoutMs = 2_000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const event = await next(Math.max(1, deadline - Date.now()));
            if (event.event === name) return event;
          }
        },
        get queued() {
          return queue.length;
        },
        fields,
        ended,
        close() {
          if (closed) return;
          closed = true;
          request.destroy();
        },
      });
    });
    request.on('error', reject);
  });
}
