/** What every benchmark returns to bench/run.ts: a table for people, raw numbers for latest.json. */
export interface BenchmarkResult {
  name: string;
  /** The product target, in words. */
  target: string;
  /** The headline figure compared with the target (a ratio, seconds, bytes…). */
  headline: { label: string; value: number };
  met: boolean;
  rows: Array<Record<string, string | number>>;
  notes: string[];
  raw: unknown;
}
