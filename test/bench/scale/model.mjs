// Per-unit figures, their growth with the fleet, and the extrapolation to fleets too large to run here.
// A unit is one breaker on one replica. Each figure per unit (and per second, for steady traffic) is
// fitted as a + b·N over the fleets measured, N being the replicas: b·N is the part that grows with the
// fleet (reporters scanned per script, pub/sub fan-out), so a fleet's total is units · (a + b·N), which
// grows faster than its size whenever b > 0.

/** One Redis: 100 000 simple commands a second, or one core of CPU time. */
export const COMMAND_BUDGET = 100_000;
export const CPU_BUDGET_US = 1_000_000;

export const METRICS = [
  ['commands', 'commands'],
  ['scripts', 'scripts'],
  ['cpuUs', 'CPU µs'],
  ['bytesIn', 'bytes in'],
  ['bytesOut', 'bytes out'],
  ['deliveries', 'deliveries'],
];

/** Redis's figures divided by `units` (and by the seconds measured when `perSecond`). */
export function perUnit(redis, units, perSecond = true) {
  const d = units * (perSecond ? redis.seconds : 1);
  return {
    commands: redis.totalCommands / d,
    scripts: redis.scripts / d,
    cpuUs: redis.cpuUs / d,
    bytesIn: redis.bytesIn / d,
    bytesOut: redis.bytesOut / d,
    deliveries: redis.deliveries / d,
  };
}

/**
 * Weighted least squares of y = a + b·x (weights w, the units measured, so that the large fleets,
 * whose figures are the least noisy, count most). A slope is kept only when it stands out of the
 * scatter (b > 2 standard errors); otherwise, and when the line falls with the fleet, the figure is
 * taken as flat: its weighted mean.
 */
export function fit(points) {
  const n = points.length;
  const total = points.reduce((s, p) => s + p.w, 0);
  if (n === 0 || total === 0) return { a: Number.NaN, b: 0 };
  const w = points.map((p) => (p.w * n) / total);
  const mx = points.reduce((s, p, i) => s + w[i] * p.x, 0) / n;
  const my = points.reduce((s, p, i) => s + w[i] * p.y, 0) / n;
  const sxx = points.reduce((s, p, i) => s + w[i] * (p.x - mx) ** 2, 0);
  if (n < 3 || sxx === 0) return { a: my, b: 0 };
  const b = points.reduce((s, p, i) => s + w[i] * (p.x - mx) * (p.y - my), 0) / sxx;
  const a = my - b * mx;
  const residual = points.reduce((s, p, i) => s + w[i] * (p.y - a - b * p.x) ** 2, 0) / (n - 2);
  const se = Math.sqrt(residual / sxx);
  if (b <= 0 || b < 2 * se) return { a: my, b: 0 };
  return { a, b };
}

export function weightedMean(points) {
  const total = points.reduce((s, p) => s + p.w, 0);
  return total === 0 ? Number.NaN : points.reduce((s, p) => s + p.w * p.y, 0) / total;
}

/**
 * Fits every metric of `rows` ({ replicas, weight, units: per-unit figures }) and extrapolates to
 * `replicas × breakers`. `counted(N)` is the number of replicas whose units the figure is per (N, or
 * N − 1 for the replicas that wait in half-open). `slopes` may give a metric a slope measured another
 * way; when it is steeper than the fitted one, the intercept is refitted under it.
 */
export function extrapolate(rows, { replicas, breakers }, counted = (n) => n, slopes = {}) {
  const out = {};
  for (const [key] of METRICS) {
    const points = rows.map((r) => ({ x: r.replicas, y: r.units[key], w: r.weight }));
    let f = fit(points);
    const given = slopes[key];
    if (given !== undefined && given > f.b) {
      f = { a: weightedMean(points.map((p) => ({ ...p, y: p.y - given * p.x }))), b: given };
    }
    const perUnitAtTarget = Math.max(0, f.a + f.b * replicas);
    out[key] = {
      ...f,
      total: counted(replicas) * breakers * perUnitAtTarget,
      growth: perUnitAtTarget > 0 ? Math.min(1, Math.max(0, (f.b * replicas) / perUnitAtTarget)) : 0,
    };
  }
  return out;
}

/** The share of one Redis, by commands and by CPU, for a load per second (or Redis-seconds for work). */
export function shares(x) {
  return {
    byCommands: x.commands.total / COMMAND_BUDGET,
    byCpu: x.cpuUs.total / CPU_BUDGET_US,
  };
}

export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A figure with about three significant digits. */
export function fig(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  const abs = Math.abs(value);
  const decimals = abs === 0 || abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A share as `0.42×`, with more digits when it is small. */
export function share(value) {
  if (!Number.isFinite(value)) return '–';
  return `${value >= 10 ? value.toFixed(0) : value >= 0.1 ? value.toFixed(2) : value.toFixed(3)}×`;
}

/** Bytes per second as MB/s. */
export const mbps = (bytes) => `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)}`;
