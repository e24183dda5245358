// Types of the few browser APIs the page's script uses, as the package compiles without the DOM library,
// and of the data it reads from the event stream. Types only: nothing here reaches the browser.

/** The part of a DOM element the page uses. */
export interface Node_ {
  textContent: string | null;
  className: string;
  hidden: boolean;
  title: string;
  disabled: boolean;
  value: string;
  readonly dataset: Record<string, string | undefined>;
  append(...nodes: (Node_ | string)[]): void;
  replaceChildren(...nodes: (Node_ | string)[]): void;
  setAttribute(name: string, value: string): void;
  querySelector(selector: string): Node_ | null;
  addEventListener(type: string, listener: () => void): void;
}

interface Document_ {
  readonly body: Node_;
  getElementById(id: string): Node_ | null;
  createElement(tag: string): Node_;
  createElementNS(namespace: string, tag: string): Node_;
}

interface EventSource_ {
  readonly readyState: number;
  onopen: (() => void) | null;
  onerror: (() => void) | null;
  addEventListener(type: string, listener: (event: { data: string }) => void): void;
}

interface Response_ {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  json(): Promise<unknown>;
}

/** The part of `window` the page uses. */
export interface BrowserWindow {
  readonly document: Document_;
  readonly EventSource: new (url: string) => EventSource_;
  fetch(
    url: string,
    init: { method: string; credentials: string; headers: Record<string, string> },
  ): Promise<Response_>;
  encodeURIComponent(text: string): string;
  requestAnimationFrame(callback: () => void): number;
}

export type State = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled';
/** Calls in one second: `[ok, failed, rejected]`. */
export type Point = [number, number, number];

/** A breaker's view without its transitions, as `update` events carry it. */
export interface Summary {
  name: string;
  state: State;
  failureRate: number;
  callsPerSecond: number;
  halfOpenInMs: number | null;
  trips: number;
}

/** One state change. */
export interface Transition {
  from: State;
  to: State;
  reason: string;
  at: number;
}
