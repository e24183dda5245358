// The page's script. It runs in the browser, not in Node: the server sends `client.toString()` as
// /app.js, so the function must not use anything from outside its own body. The few browser APIs it
// uses are typed here, as the package compiles without the DOM library.

interface Node_ {
  textContent: string | null;
  className: string;
  hidden: boolean;
  title: string;
  disabled: boolean;
  readonly dataset: Record<string, string | undefined>;
  readonly firstChild: Node_ | null;
  readonly nextSibling: Node_ | null;
  append(...nodes: (Node_ | string)[]): void;
  replaceChildren(...nodes: (Node_ | string)[]): void;
  insertBefore(node: Node_, before: Node_ | null): void;
  setAttribute(name: string, value: string): void;
  querySelector(selector: string): Node_ | null;
  addEventListener(type: string, listener: () => void): void;
  remove(): void;
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
}

type State = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled';
type Point = [number, number, number];

interface View {
  name: string;
  state: State;
  failureRate: number;
  callsPerSecond: number;
  halfOpenInMs: number | null;
  trips: number;
  transitions: { from: State; to: State; reason: string; at: number }[];
}

interface Row {
  view: View;
  history: Point[];
  tr: Node_;
  state: Node_;
  rate: Node_;
  calls: Node_;
  halfOpen: Node_;
  ok: Node_;
  failed: Node_;
  transitions: Node_;
}

/** Builds the table from the event stream: every name goes in as text, never as markup. */
export function client(win: BrowserWindow): void {
  const doc = win.document;
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 120;
  const HEIGHT = 24;
  const SHOWN_TRANSITIONS = 5;
  const admin = doc.body.dataset.admin === 'true';
  const tbody = doc.getElementById('rows')!;
  const status = doc.getElementById('status')!;
  const summary = doc.getElementById('summary')!;
  const empty = doc.getElementById('empty')!;
  const message = doc.getElementById('message')!;
  const rows = new Map<string, Row>();
  let historySeconds = 120;
  let second = 0;

  const element = (tag: string, className?: string, text?: string): Node_ => {
    const node = doc.createElement(tag);
    if (className !== undefined) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const time = (at: number): string => new Date(at).toLocaleTimeString();
  const seconds = (ms: number): string =>
    ms < 10_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.ceil(ms / 1_000)} s`;

  const act = (name: string, action: string, button: Node_): void => {
    button.disabled = true;
    const url = `api/breakers/${win.encodeURIComponent(name)}/${action}`;
    win
      .fetch(url, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(async (res) => {
        message.hidden = false;
        if (res.ok) {
          message.textContent = `${action === 'reset' ? 'Reset' : 'Forced open'}: ${name}`;
          message.className = 'message';
          return;
        }
        const body = (await res.json().catch(() => ({}))) as { error?: unknown };
        const reason = typeof body.error === 'string' ? body.error : res.statusText;
        message.textContent = `Could not ${action === 'reset' ? 'reset' : 'force open'} ${name}: ${res.status} ${reason}`;
        message.className = 'message error';
      })
      .catch(() => {
        message.hidden = false;
        message.textContent = `Could not reach the server to ${action} ${name}`;
        message.className = 'message error';
      })
      .finally(() => {
        button.disabled = false;
      });
  };

  const makeRow = (view: View): Row => {
    const tr = element('tr');
    tr.dataset.breaker = view.name;
    const name = element('th', 'name', view.name);
    name.setAttribute('scope', 'row');
    const state = element('span', 'badge');
    const rate = element('td', 'num');
    const calls = element('td', 'num');
    const halfOpen = element('td', 'num');
    const svg = doc.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const axis = doc.createElementNS(SVG, 'line');
    axis.setAttribute('class', 'axis');
    axis.setAttribute('x1', '0');
    axis.setAttribute('x2', String(WIDTH));
    axis.setAttribute('y1', String(HEIGHT - 0.5));
    axis.setAttribute('y2', String(HEIGHT - 0.5));
    const ok = doc.createElementNS(SVG, 'path');
    ok.setAttribute('class', 'ok');
    const failed = doc.createElementNS(SVG, 'path');
    failed.setAttribute('class', 'failed');
    svg.append(axis, ok, failed);
    const spark = element('td', 'spark');
    spark.append(svg);
    const stateCell = element('td', 'state');
    stateCell.append(state);
    const transitions = element('ol', 'transitions');
    const transitionsCell = element('td');
    transitionsCell.append(transitions);
    tr.append(name, stateCell, rate, calls, halfOpen, spark, transitionsCell);
    if (admin) {
      const actions = element('td', 'actions');
      for (const [action, label] of [
        ['force-open', 'Force open'],
        ['reset', 'Reset'],
      ] as const) {
        const button = element('button', action, label);
        button.setAttribute('type', 'button');
        button.addEventListener('click', () => act(view.name, action, button));
        actions.append(button);
      }
      tr.append(actions);
    }
    // Keep rows in name order.
    let before = tbody.firstChild;
    while (before !== null && (before.dataset.breaker ?? '') < view.name) before = before.nextSibling;
    tbody.insertBefore(tr, before);
    const history: Point[] = [];
    for (let i = 0; i < historySeconds; i++) history.push([0, 0, 0]);
    return { view, history, tr, state, rate, calls, halfOpen, ok, failed, transitions };
  };

  const render = (row: Row): void => {
    const { view } = row;
    row.tr.className = `state-${view.state}`;
    row.state.textContent = view.state;
    row.state.className = `badge ${view.state}`;
    row.rate.textContent = `${view.failureRate.toFixed(1)} %`;
    row.calls.textContent = String(view.callsPerSecond);
    row.halfOpen.textContent =
      view.halfOpenInMs !== null
        ? seconds(view.halfOpenInMs)
        : view.state === 'forced-open'
          ? 'on reset'
          : '–';
    const items = view.transitions
      .slice(-SHOWN_TRANSITIONS)
      .reverse()
      .map((t) => element('li', undefined, `${time(t.at)} ${t.from} → ${t.to} (${t.reason})`));
    row.transitions.replaceChildren(...items);
    row.transitions.title = view.transitions
      .map((t) => `${time(t.at)} ${t.from} → ${t.to} (${t.reason})`)
      .join('\n');
    // One stacked bar a second: failed and rejected calls in red, the others above them in grey.
    const max = Math.max(1, ...row.history.map((p) => p[0] + p[1] + p[2]));
    const width = WIDTH / row.history.length;
    const bars = (low: (p: Point) => number, high: (p: Point) => number): string =>
      row.history
        .map((p, i) => {
          if (high(p) <= low(p)) return '';
          const x = (i * width).toFixed(2);
          const top = (HEIGHT - (high(p) * (HEIGHT - 1)) / max).toFixed(2);
          const bottom = (HEIGHT - (low(p) * (HEIGHT - 1)) / max).toFixed(2);
          return `M${x},${top}h${width.toFixed(2)}V${bottom}H${x}Z`;
        })
        .join('');
    row.ok.setAttribute(
      'd',
      bars(
        (p) => p[1] + p[2],
        (p) => p[0] + p[1] + p[2],
      ),
    );
    row.failed.setAttribute(
      'd',
      bars(
        () => 0,
        (p) => p[1] + p[2],
      ),
    );
    const last = row.history[row.history.length - 1]!;
    row.tr
      .querySelector('svg')!
      .setAttribute(
        'aria-label',
        `Calls in the last ${historySeconds} s; last second: ${last[0]} ok, ${last[1]} failed, ${last[2]} rejected`,
      );
  };

  const renderSummary = (): void => {
    const byState = new Map<string, number>();
    for (const row of rows.values()) byState.set(row.view.state, (byState.get(row.view.state) ?? 0) + 1);
    const parts = [...byState].map(([state, n]) => `${n} ${state}`);
    summary.textContent = `${rows.size} breaker${rows.size === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
    empty.hidden = rows.size > 0;
  };

  const upsert = (view: View): Row => {
    let row = rows.get(view.name);
    if (row === undefined) {
      row = makeRow(view);
      rows.set(view.name, row);
    }
    row.view = view;
    return row;
  };

  // Moves every row's history on to `next`, with zero calls for the seconds not heard of.
  const advance = (next: number): void => {
    const steps = Math.min(historySeconds, Math.max(0, next - second));
    if (second !== 0) {
      for (const row of rows.values()) {
        for (let i = 0; i < steps; i++) {
          row.history.shift();
          row.history.push([0, 0, 0]);
        }
      }
    }
    second = Math.max(second, next);
  };

  const source = new win.EventSource('events');
  source.onopen = () => {
    status.textContent = 'Live';
    status.className = 'status live';
  };
  source.onerror = () => {
    // 2 is EventSource.CLOSED: the server refused the stream (too many viewers, say) and the browser gives up.
    const closed = source.readyState === 2;
    status.textContent = closed ? 'Disconnected: reload the page to try again' : 'Reconnecting…';
    status.className = 'status down';
  };
  source.addEventListener('snapshot', (event) => {
    const data = JSON.parse(event.data) as {
      second: number;
      historySeconds: number;
      breakers: (View & { history: Point[] })[];
    };
    historySeconds = data.historySeconds;
    second = data.second;
    for (const row of rows.values()) row.tr.remove();
    rows.clear();
    for (const { history, ...view } of data.breakers) {
      const row = upsert(view);
      row.history = history;
      render(row);
    }
    renderSummary();
  });
  source.addEventListener('update', (event) => {
    const data = JSON.parse(event.data) as {
      now: number;
      second: number;
      breakers: (View & { point: Point })[];
    };
    advance(data.second);
    for (const { point, ...view } of data.breakers) {
      const row = upsert(view);
      row.history[row.history.length - 1] = point;
    }
    for (const row of rows.values()) render(row);
    renderSummary();
    status.textContent = `Live, updated ${time(data.now)}`;
    status.className = 'status live';
  });
  source.addEventListener('transition', (event) => {
    const data = JSON.parse(event.data) as { breaker: View };
    render(upsert(data.breaker));
    renderSummary();
  });
  source.addEventListener('remove', (event) => {
    const data = JSON.parse(event.data) as { name: string };
    rows.get(data.name)?.tr.remove();
    rows.delete(data.name);
    renderSummary();
  });
}
