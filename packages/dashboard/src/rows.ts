import type { BrowserWindow, Node_, Point, Summary, Transition } from './browser.js';

/** The cells of one breaker's table row that change. */
export interface Row {
  tr: Node_;
  state: Node_;
  rate: Node_;
  calls: Node_;
  halfOpen: Node_;
  svg: Node_;
  ok: Node_;
  failed: Node_;
  transitions: Node_;
}

/** Makes and fills in the table rows. */
export interface Rows {
  /** A new row for the breaker named `name`, not yet in the table. */
  make(name: string): Row;
  /** Shows a breaker's view, transitions and calls per second (oldest first) in its row. */
  render(row: Row, view: Summary, transitions: Transition[], points: Point[]): void;
}

/**
 * The page's table rows: every name goes in as text, never as markup. It runs in the browser (sent as its
 * source text), so it uses nothing from outside its own body.
 */
export function rows(win: BrowserWindow, admin: boolean): Rows {
  const doc = win.document;
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 120;
  const HEIGHT = 24;
  const SHOWN_TRANSITIONS = 5;
  const message = doc.getElementById('message')!;

  const element = (tag: string, className?: string, text?: string): Node_ => {
    const node = doc.createElement(tag);
    if (className !== undefined) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const time = (at: number): string => new Date(at).toLocaleTimeString();
  const seconds = (ms: number): string =>
    ms < 10_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.ceil(ms / 1_000)} s`;
  const describe = (t: Transition): string => `${time(t.at)} ${t.from} → ${t.to} (${t.reason})`;

  const act = (name: string, action: string, button: Node_): void => {
    button.disabled = true;
    const url = `api/breakers/${win.encodeURIComponent(name)}/${action}`;
    const verb = action === 'reset' ? 'reset' : 'force open';
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
        message.textContent = `Could not ${verb} ${name}: ${res.status} ${reason}`;
        message.className = 'message error';
      })
      .catch(() => {
        message.hidden = false;
        message.textContent = `Could not reach the server to ${verb} ${name}`;
        message.className = 'message error';
      })
      .finally(() => {
        button.disabled = false;
      });
  };

  const make = (breaker: string): Row => {
    const tr = element('tr');
    tr.dataset.breaker = breaker;
    const name = element('th', 'name', breaker);
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
        button.addEventListener('click', () => act(breaker, action, button));
        actions.append(button);
      }
      tr.append(actions);
    }
    return { tr, state, rate, calls, halfOpen, svg, ok, failed, transitions };
  };

  const render = (row: Row, view: Summary, transitions: Transition[], points: Point[]): void => {
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
    const items = transitions
      .slice(-SHOWN_TRANSITIONS)
      .reverse()
      .map((t) => element('li', undefined, describe(t)));
    row.transitions.replaceChildren(...items);
    row.transitions.title = transitions.map(describe).join('\n');
    // One stacked bar a second: failed and rejected calls in red, the others above them in grey.
    const max = Math.max(1, ...points.map((p) => p[0] + p[1] + p[2]));
    const width = WIDTH / Math.max(1, points.length);
    const bars = (low: (p: Point) => number, high: (p: Point) => number): string =>
      points
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
    const last = points[points.length - 1] ?? [0, 0, 0];
    row.svg.setAttribute(
      'aria-label',
      `Calls in the last ${points.length} s; last second: ${last[0]} ok, ${last[1]} failed, ${last[2]} rejected`,
    );
  };

  return { make, render };
}
