// Per-unit figures, their growth with the fleet, and the extrapolation to fleets too large to run here.
// A unit is one breaker on one replica. A per-unit figure (per second, for steady traffic) is fitted
// over the fleets measured as a + b·N + c/B + p/N, N being the replicas and B the breakers of each:
// a is what every unit costs; b·N what grows with the fleet (a scan of every replica's record, a
// fan-out), so that a fleet's total grows faster than its size whenever b > 0; c/B a cost of each
// store shared by its breakers (subscription checks, reconciliation reads, one script a round); p/N a
// cost of each breaker shared by its replicas (a trip stored once for the fleet).

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

export function weightedMean(points) {
  const total = points.reduce((s, p) => s + p.w, 0);
  return total === 0 ? Number.NaN : points.reduce((s, p) => s + p.w * p.y, 0) / total;
}

/** The terms a figure may have besides its constant, with what each is multiplied by. */
export const TERMS = {
  perReplica: ({ replicas }) => replicas,
  perStore: ({ breakers }) => 1 / breakers,
  perBreaker: ({ replicas }) => 1 / replicas,
};

/** Solves the square system m·x = v by Gauss-Jordan elimination; returns x and the inverse of m. */
function solve(m, v) {
  const k = m.length;
  const a = m.map((row, i) => [...row, v[i], ...Array.from({ length: k }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < k; c++) {
    let pivot = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) pivot = r;
    if (Math.abs(a[pivot][c]) < 1e-12) return undefined;
    [a[c], a[pivot]] = [a[pivot], a[c]];
    const d = a[c][c];
    for (let j = 0; j < a[c].length; j++) a[c][j] /= d;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < a[r].length; j++) a[r][j] -= f * a[c][j];
    }
  }
  return { x: a.map((row) => row[k]), inverse: a.map((row) => row.slice(k + 1)) };
}

/**
 * Weighted least squares of y = a + Σ coef·term over `points` ({ replicas, breakers, y, w }; the
 * weights are the units measured, so that the large fleets, whose figures are the least noisy, count
 * most). A term is kept only when its coefficient is positive and stands out of the scatter (over two
 * standard errors); the weakest is dropped and the rest refitted until every one left does. With no
 * term left, the figure is taken as flat: its weighted mean.
 */
export function fitTerms(points, names) {
  const n = points.length;
  const total = points.reduce((s, p) => s + p.w, 0);
  if (n === 0 || total === 0) return { a: Number.NaN, coef: {} };
  const w = points.map((p) => (p.w * n) / total);
  let kept = [...names];
  for (;;) {
    if (kept.length === 0) return { a: weightedMean(points), coef: {} };
    const k = kept.length + 1;
    const rows = points.map((p) => [1, ...kept.map((name) => TERMS[name](p))]);
    const m = Array.from({ length: k }, (_, i) =>
      Array.from({ length: k }, (_, j) => rows.reduce((s, r, q) => s + w[q] * r[i] * r[j], 0)),
    );
    const v = Array.from({ length: k }, (_, i) => rows.reduce((s, r, q) => s + w[q] * r[i] * points[q].y, 0));
    const solved = n - k >= 1 ? solve(m, v) : undefined;
    if (solved === undefined) {
      kept = kept.slice(0, -1);
      continue;
    }
    const { x, inverse } = solved;
    const predicted = (r) => r.reduce((t, xi, i) => t + xi * x[i], 0);
    const residual = rows.reduce((s, r, q) => s + w[q] * (points[q].y - predicted(r)) ** 2, 0) / (n - k);
    const strength = kept.map(
      (_, i) => x[i + 1] / Math.sqrt(Math.max(residual * inverse[i + 1][i + 1], 1e-300)),
    );
    const weakest = strength.indexOf(Math.min(...strength));
    if (strength[weakest] > 2)
      return { a: x[0], coef: Object.fromEntries(kept.map((name, i) => [name, x[i + 1]])) };
    kept = kept.filter((_, i) => i !== weakest);
  }
}

/** A fitted figure at `replicas × breakers`, per unit. */
export function valueAt(f, fleet) {
  return Object.entries(f.coef).reduce((s, [name, c]) => s + c * TERMS[name](fleet), f.a);
}

/**
 * Fits every metric of `rows` ({ replicas, breakers, weight, units: per-unit figures }) with the
 * constant and `terms`, and extrapolates to `replicas × breakers`. `counted(N)` is the number of
 * replicas whose units the figure is per (N, or N − 1 for the replicas that wait in half-open).
 */
export function extrapolate(rows, target, counted = (n) => n, terms = []) {
  const out = {};
  for (const [key] of METRICS) {
    const points = rows.map((r) => ({
      replicas: r.replicas,
      breakers: r.breakers,
      y: r.units[key],
      w: r.weight,
    }));
    const f = fitTerms(points, terms);
    const perUnitAtTarget = Math.max(0, valueAt(f, target));
    const grows = (f.coef.perReplica ?? 0) * target.replicas;
    out[key] = {
      ...f,
      total: counted(target.replicas) * target.breakers * perUnitAtTarget,
      growth: perUnitAtTarget > 0 ? Math.min(1, Math.max(0, grows / perUnitAtTarget)) : 0,
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
