/**
 * Small statistics helpers for benchmark samples. Percentiles use the nearest-rank method on a
 * sorted copy, which is exact for the sample sizes here (thousands to a few hundred thousand).
 * @see https://en.wikipedia.org/wiki/Percentile#The_nearest-rank_method
 */

export function percentile(sortedAscending: ArrayLike<number>, p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function median(values: number[]): number {
  return percentile(Float64Array.from(values).sort(), 50);
}

/** `a / b`, or NaN when `b` is zero, rounded to 2 decimals for tables. */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : round(a / b, 2);
}

export function round(value: number, decimals = 1): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}
