import { createHash } from 'node:crypto';
import { arrange } from './arrange.js';
import { client } from './client.js';
import { HISTORY_SECONDS } from './monitor.js';
import { rows } from './rows.js';

const CSS = `
:root { color-scheme: light dark; --fg: #1d2430; --muted: #5d6b7e; --line: #d9dee5; --bg: #ffffff; --head: #f4f6f9;
  --closed: #1f7a3d; --open: #b42318; --half: #a15c00; --forced: #6b21a8; --disabled: #4b5563; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ee; --muted: #9aa6b5; --line: #2f3845; --bg: #12161c; --head: #1a2029;
    --closed: #4ade80; --open: #f87171; --half: #fbbf24; --forced: #c084fc; --disabled: #9ca3af; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.5rem 1.5rem; margin-bottom: 1rem; }
h1 { font-size: 1.4rem; margin: 0; }
.status, #summary { color: var(--muted); margin: 0; }
.status.live::before { content: "●"; color: var(--closed); margin-right: 0.35em; }
.status.down::before { content: "●"; color: var(--open); margin-right: 0.35em; }
.message { margin: 0 0 1rem; padding: 0.5rem 0.75rem; border: 1px solid var(--line); border-radius: 6px; }
.message.error { border-color: var(--open); color: var(--open); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--head); font-weight: 600; white-space: nowrap; }
th.name { font-weight: 600; word-break: break-all; max-width: 24rem; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.num { min-width: 6.5rem; }
td.state { min-width: 8rem; }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-weight: 600; font-size: 0.85em;
  border: 1px solid currentColor; white-space: nowrap; }
.badge.closed { color: var(--closed); }
.badge.open { color: var(--open); }
.badge.half-open { color: var(--half); }
.badge.forced-open { color: var(--forced); }
.badge.disabled { color: var(--disabled); }
tr.state-open th.name, tr.state-forced-open th.name { color: var(--open); }
.spark svg { width: 10rem; height: 1.6rem; display: block; }
.spark .axis { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
.spark .ok { fill: var(--muted); }
.spark .failed { fill: var(--open); }
ol.transitions { margin: 0; padding: 0; list-style: none; color: var(--muted); font-size: 0.85em; }
.actions { white-space: nowrap; }
button { font: inherit; padding: 0.2rem 0.6rem; margin-right: 0.35rem; border-radius: 5px; border: 1px solid var(--line);
  background: var(--head); color: var(--fg); cursor: pointer; }
button.force-open { border-color: var(--open); }
button:disabled { opacity: 0.5; cursor: wait; }
#empty, #shown { color: var(--muted); }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; margin-bottom: 0.75rem; }
.controls label { color: var(--muted); }
input, select { font: inherit; padding: 0.25rem 0.5rem; border-radius: 5px; border: 1px solid var(--line);
  background: var(--bg); color: var(--fg); }
#search { min-width: 18rem; }
.more { display: flex; align-items: baseline; gap: 1rem; margin-top: 0.75rem; }
.more p { margin: 0; }
`;

/** The page's script, served as /app.js: `client`, given the helpers it calls, each by its source text. */
export const APP_JS = `'use strict';\n(${client.toString()})(window, ${arrange.toString()}, ${rows.toString()});\n`;

/** `Content-Security-Policy` of every answer: the script from /app.js only, the inline style by its hash. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The page: a table the script fills in from the event stream. Nothing in it comes from a request. */
export function renderPage(admin: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Circuit breakers</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
<script src="app.js" defer></script>
</head>
<body data-admin="${admin ? 'true' : 'false'}">
<header>
<h1>Circuit breakers</h1>
<p id="summary"></p>
<p id="status" class="status" role="status">Connecting…</p>
</header>
<p id="message" class="message" role="alert" hidden></p>
<main>
<div class="controls">
<input id="search" type="search" placeholder="Search by name" aria-label="Search breakers by name" autocomplete="off" spellcheck="false">
<label>Sort by <select id="sort"><option value="state">State, open first</option><option value="name">Name</option><option value="failure-rate">Failure rate, highest first</option><option value="calls">Calls/s, busiest first</option></select></label>
</div>
<table>
<thead><tr><th scope="col">Breaker</th><th scope="col">State</th><th scope="col" class="num">Failure rate</th><th scope="col" class="num">Calls/s</th><th scope="col" class="num">Half-open in</th><th scope="col">Last ${HISTORY_SECONDS / 60} minutes</th><th scope="col">Recent transitions</th>${admin ? '<th scope="col">Actions</th>' : ''}</tr></thead>
<tbody id="rows"></tbody>
</table>
<p id="empty">No breaker yet: breakers appear here once the registry makes them.</p>
<div class="more"><p id="shown" hidden></p><button id="more" type="button" hidden>Show more</button></div>
</main>
</body>
</html>
`;
}
