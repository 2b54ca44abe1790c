/** What every benchmark returns to bench/run.ts: a table for people, raw numbers for latest.json. */
export interface BenchmarkResult {
  name: string;
  /** The product target, in words. */
  target: string;
  /** The headline figure compared with the target (a ratio, seconds, bytes…). */
  headline: { label: string; value: number };
  /** Whether the target is met; absent for a diagnosis, which has no target of its own. */
  met?: boolean;
  rows: Array<Record<string, string | number>>;
  notes: string[];
  raw: unknown;
}
