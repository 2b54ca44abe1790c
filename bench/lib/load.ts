import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { percentile, round } from './stats.js';

/**
 * The load client: N virtual users, each running a scenario (a few dependent requests, e.g. the
 * filter GET, POST, PATCH Entra makes per user) in a loop over one undici keep-alive pool, for a
 * warm-up period and then a measured window. It runs in the benchmark's own process and measures
 * its own CPU time per request, so its cost can be reported next to the server's.
 * autocannon is not a dependency; undici's `Pool.request` is the cheapest client available.
 * @see https://undici.nodejs.org/#/docs/api/Pool
 */

export interface LoadRequest {
  /** Groups latencies in the result, e.g. `filter`, `create`, `patch`. */
  kind: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** Status that counts as success; anything else is counted in `errors`. */
  expect: number;
}

export interface LoadResponse {
  status: number;
  json: unknown;
}

export type Send = (request: LoadRequest) => Promise<LoadResponse>;

/** One iteration of one virtual user; `iteration` is unique across all virtual users. */
export type Scenario = (send: Send, iteration: number) => Promise<void>;

export interface LoadOptions {
  origin: string;
  /** Prefix of every request path, e.g. the tenant URL's `/acme/scim/v2`. */
  basePath: string;
  headers: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  scenario: Scenario;
  /** First iteration number (keeps user names unique across runs against one store). */
  firstIteration?: number;
  /** Called when the measured window opens and closes (to read the server's CPU time). */
  onWindow?: (edge: 'start' | 'end') => Promise<void>;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** First unexpected answer, for the report. */
  firstError?: string;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  byKind: Record<string, LatencySummary>;
  /** CPU the load client (this process) used per measured request, in microseconds. */
  clientCpuUsPerRequest: number;
  /** Next unused iteration number. */
  nextIteration: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(options.origin, { connections: options.concurrency, pipelining: 1 });
  const samples: Array<{ kind: string; ms: number }> = [];
  let recording = false;
  let stopped = false;
  let errors = 0;
  let firstError: string | undefined;
  let iteration = options.firstIteration ?? 0;

  const send = createSend(pool, options, (request, status, text, ms) => {
    if (!recording) return;
    samples.push({ kind: request.kind, ms });
    if (status !== request.expect) {
      errors += 1;
      firstError ??= describe(request, status, text);
    }
  });

  const virtualUser = async () => {
    while (!stopped) {
      try {
        await options.scenario(send, iteration++);
      } catch (error) {
        if (!recording) continue;
        errors += 1;
        firstError ??= String(error);
      }
    }
  };

  try {
    const users = Array.from({ length: options.concurrency }, virtualUser);
    await sleep(options.warmupMs);
    await options.onWindow?.('start');
    recording = true;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await sleep(options.durationMs);
    recording = false;
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    await options.onWindow?.('end');
    stopped = true;
    await Promise.all(users);

    const all = Float64Array.from(samples.map((s) => s.ms)).sort();
    const byKind: Record<string, LatencySummary> = {};
    for (const kind of new Set(samples.map((s) => s.kind))) {
      const sorted = Float64Array.from(samples.filter((s) => s.kind === kind).map((s) => s.ms)).sort();
      byKind[kind] = { count: sorted.length, p50Ms: round(percentile(sorted, 50), 2), p99Ms: round(percentile(sorted, 99), 2) };
    }
    return {
      requests: samples.length,
      errors,
      ...(firstError ? { firstError } : {}),
      seconds: round(seconds, 2),
      requestsPerSecond: Math.round(samples.length / seconds),
      p50Ms: round(percentile(all, 50), 2),
      p99Ms: round(percentile(all, 99), 2),
      byKind,
      clientCpuUsPerRequest: Math.round((cpu.user + cpu.system) / Math.max(1, samples.length)),
      nextIteration: iteration,
    };
  } finally {
    stopped = true;
    await pool.close();
  }
}

/**
 * Runs `total` scenario iterations (not a time window) with bounded concurrency: the end-to-end
 * benchmark provisions a fixed number of users as fast as the bridge takes them.
 */
export async function runIterations(options: Omit<LoadOptions, 'warmupMs' | 'durationMs'> & { total: number }): Promise<{ errors: number; firstError?: string }> {
  const pool = new Pool(options.origin, { connections: options.concurrency, pipelining: 1 });
  let next = options.firstIteration ?? 0;
  const end = next + options.total;
  let errors = 0;
  let firstError: string | undefined;
  const send = createSend(pool, options, (request, status, text) => {
    if (status === request.expect) return;
    errors += 1;
    firstError ??= describe(request, status, text);
  });
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < end) {
          try {
            await options.scenario(send, next++);
          } catch (error) {
            errors += 1;
            firstError ??= String(error);
          }
        }
      }),
    );
    return { errors, ...(firstError ? { firstError } : {}) };
  } finally {
    await pool.close();
  }
}

type Observe = (request: LoadRequest, status: number, text: string, ms: number) => void;

/** Sends one request over the pool, reads the whole answer and reports it to `observe`. */
function createSend(pool: Pool, { headers, basePath }: Pick<LoadOptions, 'headers' | 'basePath'>, observe: Observe): Send {
  const withBody = { ...headers, 'content-type': 'application/scim+json' };
  return async (request) => {
    const started = performance.now();
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const response = await pool.request({ method: request.method, path: `${basePath}${request.path}`, headers: body === undefined ? headers : withBody, body });
    const text = await response.body.text();
    observe(request, response.statusCode, text, performance.now() - started);
    return { status: response.statusCode, json: text ? (JSON.parse(text) as unknown) : undefined };
  };
}

function describe(request: LoadRequest, status: number, text: string): string {
  return `${request.method} ${request.kind}: ${status} ${text.slice(0, 200)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
