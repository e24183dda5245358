// Types of soak.mjs for the TypeScript test that drives it.

export declare const CALL_TIMEOUT_MS: number;
export declare const LATENCY_SLACK_MS: number;
export declare const AGREEMENT_LIMIT_MS: number;
/** The shortest run that fits every fault (about a minute); the default duration. */
export declare const SHORT_DURATION_S: number;
export declare const LEVELS: { low: number; medium: number; high: number; peak: number };
export declare const ROUTES: readonly {
  path: string;
  name: string;
  keys?: string[];
  options: { failureThreshold: number; timeout: number };
}[];

export interface SoakOptions {
  /** Seconds, at least {@link SHORT_DURATION_S}. */
  duration?: number;
  replicas?: number;
  /** A directory holding core/, redis/ and express/ with their dist/ (default: the repository's packages/). */
  packages?: string;
  /** Aborting stops the run; every child process is gone before `runSoak` rejects. */
  signal?: AbortSignal;
  /** Progress lines. */
  log?: (line: string) => void;
  maxRequests?: number;
}

export interface InvariantResult {
  id: number | 'S';
  title: string;
  ok: boolean;
  /** The figure measured, such as "max disagreement 3715 ms (partner-c:acme)". */
  measured: string;
  limit: string;
  /** What failed and by how much; empty when it held. */
  failure: string;
}

export interface SoakResult {
  ok: boolean;
  invariants: InvariantResult[];
  /** Every figure of the report, JSON-serialisable. */
  figures: Record<string, unknown>;
  summary: string;
  markdown: string;
}

export interface SoakPlan {
  total: number;
  segments: { from: number; to: number; start: number; end: number }[];
  actions: { at: number; type: string; [key: string]: unknown }[];
  phases: { name: string; from: number; to: number; [key: string]: unknown }[];
}

export declare function buildPlan(durationS: number): SoakPlan;
export declare function runSoak(options?: SoakOptions): Promise<SoakResult>;
export declare function renderSummary(result: SoakResult): string;
export declare function renderMarkdown(result: SoakResult): string;
