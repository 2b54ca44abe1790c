import type { Redis } from 'ioredis';
import type { BenchChild } from './child.js';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import { redisCpuSeconds } from './redis.js';

/** A load run plus what it cost the server process and Redis, per measured request. */
export interface MeasuredRun extends LoadResult {
  label: string;
  serverCpuUsPerRequest: number;
  /** redis-server CPU per request; includes other clients of a shared server, so indicative. */
  redisCpuUsPerRequest: number;
}

export async function measureLoad(
  label: string,
  child: BenchChild,
  redis: Redis,
  options: Omit<LoadOptions, 'origin'>,
): Promise<MeasuredRun> {
  if (!child.url) throw new Error(`${label}: the child serves no HTTP`);
  const cpu: Record<'start' | 'end', [number, number]> = { start: [0, 0], end: [0, 0] };
  const result = await runLoad({
    ...options,
    origin: child.url,
    async onWindow(edge) {
      cpu[edge] = await Promise.all([child.cpuSeconds(), redisCpuSeconds(redis)]);
    },
  });
  const perRequest = (seconds: number) => Math.round((seconds * 1e6) / Math.max(1, result.requests));
  return {
    label,
    ...result,
    serverCpuUsPerRequest: perRequest(cpu.end[0] - cpu.start[0]),
    redisCpuUsPerRequest: perRequest(cpu.end[1] - cpu.start[1]),
  };
}

/**
 * Runs load that is not measured, so the JIT has compiled the hot paths before the first
 * measured run (a fresh process is markedly slower for its first few seconds).
 */
export async function prime(child: BenchChild, options: Omit<LoadOptions, 'origin' | 'warmupMs' | 'durationMs'>, ms: number): Promise<number> {
  if (!child.url) throw new Error('prime: the child serves no HTTP');
  const result = await runLoad({ ...options, origin: child.url, warmupMs: ms, durationMs: 1 });
  return result.nextIteration;
}

/** The columns every HTTP benchmark prints for one run. */
export function runRow(run: MeasuredRun): Record<string, string | number> {
  return {
    run: run.label,
    'req/s': run.requestsPerSecond,
    'p50 ms': run.p50Ms,
    'p99 ms': run.p99Ms,
    'server CPU µs/req': run.serverCpuUsPerRequest,
    'client CPU µs/req': run.clientCpuUsPerRequest,
    errors: run.errors,
  };
}
