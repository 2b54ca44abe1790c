import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BENCH_REDIS_URL } from './redis.js';

/**
 * Bridge configs for the benchmarks, as plain objects: the child process passes them to
 * `configFromObject`, and the parent builds the same config to seed the store through a runtime.
 */

export const SAMPLE_MAPPING = fileURLToPath(new URL('../../mappings/sample-legacy.yaml', import.meta.url));

export interface BenchConnection {
  id: string;
  /** Base URL of the target; the benchmarks that deliver nothing point at a closed port. */
  targetUrl: string;
  concurrency?: number;
}

export interface BenchConfig {
  /** The object for `configFromObject`. */
  raw: Record<string, unknown>;
  secret: string;
  targetToken: string;
}

export function benchConfig(prefix: string, connections: BenchConnection[]): BenchConfig {
  const secret = randomBytes(16).toString('hex');
  const targetToken = randomBytes(12).toString('hex');
  return {
    secret,
    targetToken,
    raw: {
      redis: { url: BENCH_REDIS_URL, prefix },
      logLevel: 'silent',
      connections: connections.map((c) => ({
        id: c.id,
        auth: { bearer: [secret] },
        target: { baseUrl: c.targetUrl, auth: { type: 'bearer', token: targetToken }, timeoutMs: 5_000 },
        mapping: SAMPLE_MAPPING,
        ...(c.concurrency === undefined ? {} : { delivery: { concurrency: c.concurrency } }),
      })),
    },
  };
}

/** The tenant URL path of a connection (default base path). */
export function basePathOf(connectionId: string): string {
  return `/${connectionId}/scim/v2`;
}
