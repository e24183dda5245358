// Shared helpers of the benchmarks: statistics, number formatting, Markdown tables and the
// small protocol by which index.mjs collects each script's results.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The median of a list of numbers (the mean of the two middle ones for an even count). */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const min = (values) => Math.min(...values);
export const max = (values) => Math.max(...values);

/** Formats a number with a fixed count of decimals and thin thousands separators. */
export function num(value, decimals = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A ratio as `1.23×`. */
export const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');

/** Formats nanoseconds with one decimal below 100 ns and none above. */
export const ns = (value) => num(value, value < 100 ? 1 : 0);

/**
 * A table as Markdown whose columns line up in a terminal too. `align` holds 'l' or 'r' per column
 * (numbers default to the right).
 */
export function table({ columns, rows, align }) {
  const cells = [columns, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = columns.map((_, i) => Math.max(3, ...cells.map((row) => [...row[i]].length)));
  const sides = columns.map((_, i) => align?.[i] ?? (i === 0 ? 'l' : 'r'));
  const pad = (text, i) => {
    const fill = ' '.repeat(widths[i] - [...text].length);
    return sides[i] === 'r' ? fill + text : text + fill;
  };
  const line = (row) => `| ${row.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (sides[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

/** Renders a section: a heading, a paragraph and a table. */
export function renderSection({ heading, text, table: t, notes }) {
  const parts = [`### ${heading}`];
  if (text) parts.push(text);
  if (t) parts.push(table(t));
  if (notes) parts.push(notes);
  return parts.join('\n\n');
}

/** Renders one script's results: a level-2 heading and its sections. */
export function renderReport(report) {
  return [`## ${report.title}`, report.intro, ...report.sections.map(renderSection)]
    .filter(Boolean)
    .join('\n\n');
}

/** Lets other work run (timers, I/O) between measurements. */
export const breathe = () => new Promise((resolve) => setImmediate(resolve));

/** Progress on stderr, so that stdout carries only the tables. */
export const progress = (message) => process.stderr.write(`  … ${message}\n`);

/**
 * Runs `run()` when the module is the entry point: prints its tables to stdout and, with
 * `--json FILE`, writes the report as JSON for index.mjs.
 */
export async function runIfMain(meta, run) {
  if (meta.url !== pathToFileURL(process.argv[1] ?? '').href) return;
  const report = await run();
  console.log(`${renderReport(report)}\n`);
  const at = process.argv.indexOf('--json');
  if (at !== -1) writeFileSync(process.argv[at + 1], JSON.stringify(report));
}

/** Milliseconds since `start` (from performance.now()). */
export const since = (start) => performance.now() - start;

/** Reads an integer from the environment, for quicker runs while editing. */
export function envInt(name, fallback) {
  const value = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The commit measured, and whether the packages' files differ from it. */
export function measuredCommit() {
  const cwd = fileURLToPath(new URL('.', import.meta.url));
  const git = (...args) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
  try {
    const head = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--', '../../packages') === ''
      ? head
      : `${head}, with uncommitted changes under packages/`;
  } catch {
    return 'unknown';
  }
}

/** The machine's CPU model, from /proc/cpuinfo. */
export function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Keeps the load generator and the server under test off each other's core when the machine has two
 * or more: `pinSelf()` moves every thread of this process to CPU 0 and `onServerCore(command, args)`
 * starts a child on CPU 1, through util-linux's `taskset`. Without `taskset` both leave things as they are.
 * Returns whether pinning is in effect, for the report.
 */
export function pinSelf() {
  if (!canPin()) return false;
  execFileSync('taskset', ['-a', '-pc', '0', String(process.pid)], { stdio: 'ignore' });
  return true;
}

/** `[command, args]` that start `command` on the server's core (see {@link pinSelf}). */
export function onServerCore(command, args) {
  return canPin() ? ['taskset', ['-c', '1', command, ...args]] : [command, args];
}

let pinning;
function canPin() {
  if (pinning === undefined) {
    try {
      pinning = availableParallelism() >= 2 && process.platform === 'linux';
      if (pinning) execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    } catch {
      pinning = false;
    }
  }
  return pinning;
}
