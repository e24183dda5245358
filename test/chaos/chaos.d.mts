// Types of chaos.mjs for the TypeScript test that drives it.

export declare const CALL_TIMEOUT_MS: number;
export declare const LATENCY_SLACK_MS: number;
/** The shortest run that fits every fault (the fuzz comes on top); the default duration. */
export declare const SHORT_DURATION_S: number;
export declare const SHORT_FUZZ_CASES: number;

export interface ChaosOptions {
  /** Seconds, at least {@link SHORT_DURATION_S}. */
  duration?: number;
  /** Seeds the schedule, the clients' hang-ups, the partner's choices and the fuzz (default: random). */
  seed?: number;
  /** Fuzz cases (default 2,000 for a short run, 10,000 for a long one). */
  fuzzCases?: number;
  /** A directory holding core/, express/, koa/ and undici/ with their dist/ (default: the repository's packages/). */
  packages?: string;
  /** Aborting stops the run; every child process is gone before `runChaos` rejects. */
  signal?: AbortSignal;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface InvariantResult {
  id: number | 'S';
  title: string;
  ok: boolean;
  /** The figure measured, such as "0 of 3356 requests without a proper answer". */
  measured: string;
  limit: string;
  /** What failed and by how much; empty when it held. */
  failure: string;
}

export interface ChaosResult {
  ok: boolean;
  invariants: InvariantResult[];
  /** Every figure of the report, JSON-serialisable. */
  figures: Record<string, unknown>;
  summary: string;
  markdown: string;
}

export interface ChaosPlan {
  total: number;
  seed: number;
  stages: {
    name: string;
    ms?: number;
    traffic?: boolean;
    fuzz?: boolean;
    checkpoint?: 'early' | 'end';
    phases?: { at: number; mode: string; ratio: number }[];
  }[];
}

export declare function buildPlan(durationS: number, seed: number): ChaosPlan;
export declare function runChaos(options?: ChaosOptions): Promise<ChaosResult>;
export declare function renderSummary(result: ChaosResult): string;
export declare function renderMarkdown(result: ChaosResult): string;
