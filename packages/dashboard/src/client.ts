// The page's script. It runs in the browser, not in Node: the server sends the source text of `client`,
// `rows` and `arrange` as /app.js, so none of them may use anything from outside its own body.
import type { arrange as arrangeBreakers, SortKey } from './arrange.js';
import type { BrowserWindow, Point, Summary, Transition } from './browser.js';
import type { Row, rows as makeRows } from './rows.js';

/** One breaker as the page knows it. */
interface Entry extends Summary {
  transitions: Transition[];
  /** Calls per second, three counts a second, at `(second % historySeconds) * 3`; absent until a call. */
  calls: Uint32Array | undefined;
  /** The latest second `calls` has a slot for. */
  latest: number;
  /** Its table row, while it is on the page. */
  row: Row | undefined;
  /** Whether its row shows older data. */
  stale: boolean;
}

interface Page {
  second: number;
  done: boolean;
  breakers: (Summary & { transitions: Transition[]; history?: Point[] })[];
}

/** Fills the table from the event stream: a page of breakers at a time, found by search, in the chosen order. */
export function client(win: BrowserWindow, arrange: typeof arrangeBreakers, rows: typeof makeRows): void {
  const doc = win.document;
  const STEP = 100;
  const table = rows(win, doc.body.dataset.admin === 'true');
  const tbody = doc.getElementById('rows')!;
  const status = doc.getElementById('status')!;
  const summary = doc.getElementById('summary')!;
  const empty = doc.getElementById('empty')!;
  const shownText = doc.getElementById('shown')!;
  const more = doc.getElementById('more')!;
  const search = doc.getElementById('search')!;
  const sort = doc.getElementById('sort')!;
  const entries = new Map<string, Entry>();
  let historySeconds = 120;
  let second = 0;
  let rendered = 0;
  let query = '';
  let order: SortKey = 'state';
  let limit = STEP;
  let shown: Entry[] = [];
  let rearrange = true;
  let scheduled = false;
  let loading: { total: number; received: number } | undefined;

  const count = (n: number): string => n.toLocaleString('en-US');
  const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

  const upsert = (view: Summary): Entry => {
    const { name, state, failureRate, callsPerSecond, halfOpenInMs, trips } = view;
    let entry = entries.get(name);
    if (entry === undefined) {
      entry = {
        name,
        state,
        failureRate,
        callsPerSecond,
        halfOpenInMs,
        trips,
        transitions: [],
        calls: undefined,
        latest: 0,
        row: undefined,
        stale: true,
      };
      entries.set(name, entry);
      rearrange = true;
    } else if (
      entry.state !== state ||
      (order === 'failure-rate' && entry.failureRate !== failureRate) ||
      (order === 'calls' && entry.callsPerSecond !== callsPerSecond)
    ) {
      rearrange = true;
    }
    Object.assign(entry, { state, failureRate, callsPerSecond, halfOpenInMs, trips });
    entry.stale = true;
    return entry;
  };

  // Same ring as the server's: a slot per second, cleared as newer seconds come.
  const record = (entry: Entry, at: number, point: Point): void => {
    const calls = (entry.calls ??= new Uint32Array(historySeconds * 3));
    if (at > entry.latest) {
      for (let s = Math.max(entry.latest + 1, at - historySeconds + 1); s <= at; s++) {
        calls.fill(0, (s % historySeconds) * 3, (s % historySeconds) * 3 + 3);
      }
      entry.latest = at;
    } else if (at <= entry.latest - historySeconds) return;
    calls.set(point, (at % historySeconds) * 3);
  };

  const points = (entry: Entry): Point[] => {
    const { calls, latest } = entry;
    const list: Point[] = [];
    for (let s = second - historySeconds + 1; s <= second; s++) {
      const at = (s % historySeconds) * 3;
      const known = calls !== undefined && s <= latest && s > latest - historySeconds;
      list.push(known ? [calls[at]!, calls[at + 1]!, calls[at + 2]!] : [0, 0, 0]);
    }
    return list;
  };

  const render = (): void => {
    scheduled = false;
    if (rearrange) {
      rearrange = false;
      const arranged = arrange(entries.values(), query, order, limit);
      const kept = new Set(arranged.shown);
      // Only the rows on the page exist: a breaker that leaves the shown list loses its row.
      for (const entry of shown) if (!kept.has(entry)) entry.row = undefined;
      shown = arranged.shown;
      for (const entry of shown) {
        if (entry.row === undefined) {
          entry.row = table.make(entry.name);
          entry.stale = true;
        }
      }
      tbody.replaceChildren(...shown.map((entry) => entry.row!.tr));
      const states = arranged.counts.map(([state, n]) => `${count(n)} ${state}`);
      summary.textContent = `${plural(entries.size, 'breaker')}${states.length > 0 ? `: ${states.join(', ')}` : ''}`;
      shownText.hidden = entries.size === 0;
      shownText.textContent =
        query.trim() === ''
          ? `Showing ${count(shown.length)} of ${count(entries.size)}`
          : `Showing ${count(shown.length)} of ${count(arranged.matching)} matching “${query.trim()}”`;
      more.hidden = shown.length >= arranged.matching;
      more.textContent = `Show ${count(Math.min(STEP, arranged.matching - shown.length))} more`;
      empty.hidden = arranged.matching > 0;
      empty.textContent =
        entries.size === 0
          ? 'No breaker yet: breakers appear here once the registry makes them.'
          : 'No breaker matches the search.';
    }
    const moved = rendered !== second;
    rendered = second;
    for (const entry of shown) {
      if (!entry.stale && !(moved && entry.calls !== undefined)) continue;
      entry.stale = false;
      table.render(entry.row!, entry, entry.transitions, points(entry));
    }
  };

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    win.requestAnimationFrame(render);
  };

  const loaded = (): void => {
    status.className = 'status live';
    status.textContent =
      loading === undefined
        ? 'Live'
        : `Live, loading breakers: ${count(loading.received)} of ${count(loading.total)}`;
  };

  const take = (page: Page): void => {
    second = Math.max(second, page.second);
    for (const { history, transitions, ...view } of page.breakers) {
      const entry = upsert(view);
      entry.transitions = transitions;
      entry.calls = undefined;
      entry.latest = 0;
      history?.forEach((point, i) => record(entry, page.second - history.length + 1 + i, point));
    }
    if (loading !== undefined) {
      loading.received += page.breakers.length;
      if (page.done) loading = undefined;
    }
    loaded();
    schedule();
  };

  search.addEventListener('input', () => {
    query = search.value;
    limit = STEP;
    rearrange = true;
    schedule();
  });
  sort.addEventListener('change', () => {
    order = sort.value as SortKey;
    rearrange = true;
    schedule();
  });
  more.addEventListener('click', () => {
    limit += STEP;
    rearrange = true;
    schedule();
  });
  // A reloaded page may come back with the search and order the browser kept.
  query = search.value;
  order = (sort.value as SortKey) || 'state';

  const source = new win.EventSource('events');
  source.onopen = loaded;
  source.onerror = () => {
    // 2 is EventSource.CLOSED: the server refused the stream (too many viewers, say) and the browser gives up.
    const closed = source.readyState === 2;
    status.textContent = closed ? 'Disconnected: reload the page to try again' : 'Reconnecting…';
    status.className = 'status down';
  };
  source.addEventListener('snapshot', (event) => {
    const data = JSON.parse(event.data) as Page & { historySeconds: number; total: number };
    historySeconds = data.historySeconds;
    second = 0;
    for (const entry of shown) entry.row = undefined;
    shown = [];
    entries.clear();
    rearrange = true;
    loading = { total: data.total, received: 0 };
    take(data);
  });
  source.addEventListener('snapshot-page', (event) => take(JSON.parse(event.data) as Page));
  source.addEventListener('update', (event) => {
    const data = JSON.parse(event.data) as {
      now: number;
      second: number;
      breakers: (Summary & { point: Point })[];
    };
    second = Math.max(second, data.second);
    for (const { point, ...view } of data.breakers) {
      const entry = upsert(view);
      if (point[0] + point[1] + point[2] > 0 || entry.calls !== undefined) record(entry, data.second, point);
    }
    if (loading === undefined) {
      status.textContent = `Live, updated ${new Date(data.now).toLocaleTimeString()}`;
      status.className = 'status live';
    }
    schedule();
  });
  source.addEventListener('transition', (event) => {
    const data = JSON.parse(event.data) as { breaker: Summary & { transitions: Transition[] } };
    const { transitions, ...view } = data.breaker;
    upsert(view).transitions = transitions;
    schedule();
  });
  source.addEventListener('remove', (event) => {
    const data = JSON.parse(event.data) as { name: string };
    if (entries.delete(data.name)) rearrange = true;
    schedule();
  });
}
