import { startChild, type BenchChild } from './lib/child.js';
import { basePathOf, benchConfig } from './lib/config.js';
import { entraUserBody, entraUserPatch, filterByUserName, userName } from './lib/entra.js';
import type { Scenario } from './lib/load.js';
import { measureLoad, prime, runRow, type MeasuredRun } from './lib/measure.js';
import { BENCH_REDIS_URL, benchPrefix, connectRedis, deleteByPrefix } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { median, ratio } from './lib/stats.js';

/**
 * front-door: Entra's per-user mix (filter GET that misses, POST, PATCH) against the bridge's
 * API (API-only, no worker) and against a bare Fastify route doing one Redis GET, with the same
 * client and concurrency, in alternating rounds. Product target: the bridge within 3× of bare.
 */

const CONCURRENCY = 32;
const ROUNDS = 2;
const WARMUP_MS = 1_500;
const DURATION_MS = 6_000;
const PRIME_MS = 3_000;
const CONNECTION = 'bench';
const TARGET_RATIO = 3;

/** GET `userName eq` (a miss, as before every create), POST the user, PATCH it. */
function entraMix(): Scenario {
  return async (send, i) => {
    await send(filterByUserName(userName(i)));
    const created = await send({ kind: 'create', method: 'POST', path: '/Users', body: entraUserBody(i), expect: 201 });
    const id = (created.json as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') return;
    await send({ kind: 'patch', method: 'PATCH', path: `/Users/${encodeURIComponent(id)}`, body: entraUserPatch(i), expect: 200 });
  };
}

export async function frontDoor(): Promise<BenchmarkResult> {
  const prefix = benchPrefix('front-door');
  const redis = connectRedis();
  const config = benchConfig(prefix, [{ id: CONNECTION, targetUrl: 'http://127.0.0.1:9' }]);
  const basePath = basePathOf(CONNECTION);
  const bareKey = `${prefix}:bare:key`;
  const children: BenchChild[] = [];
  try {
    await redis.set(bareKey, JSON.stringify({ hello: 'world' }));
    const [echo, bare, bridge] = await Promise.all([
      startChild({ kind: 'echo' }),
      startChild({ kind: 'bare', redisUrl: BENCH_REDIS_URL, key: bareKey, basePath }),
      startChild({ kind: 'bridge', config: config.raw, api: true, worker: false }),
    ]);
    children.push(echo, bare, bridge);

    const shared = { basePath, headers: { authorization: `Bearer ${config.secret}` }, concurrency: CONCURRENCY, scenario: entraMix() };
    let iteration = 0;
    const load = async (label: string, child: BenchChild) => {
      const run = await measureLoad(label, child, redis, { ...shared, warmupMs: WARMUP_MS, durationMs: DURATION_MS, firstIteration: iteration });
      iteration = run.nextIteration;
      return run;
    };

    const ceiling = await load('client ceiling (node:http constant answer)', echo);
    iteration = await prime(bare, { ...shared, firstIteration: iteration }, PRIME_MS);
    iteration = await prime(bridge, { ...shared, firstIteration: iteration }, PRIME_MS);
    const bareRuns: MeasuredRun[] = [];
    const bridgeRuns: MeasuredRun[] = [];
    // A-B-B-A order, so a slow drift of the machine's load weighs on both sides alike.
    for (let round = 1; round <= ROUNDS; round++) {
      const runBare = async () => bareRuns.push(await load(`bare Fastify + 1 Redis GET, round ${round}`, bare));
      const runBridge = async () => bridgeRuns.push(await load(`bridge API, round ${round}`, bridge));
      if (round % 2 === 1) {
        await runBare();
        await runBridge();
      } else {
        await runBridge();
        await runBare();
      }
    }

    const slowdown = median(bareRuns.map((b, i) => ratio(b.requestsPerSecond, bridgeRuns[i]?.requestsPerSecond ?? 0)));
    const perRound = (pick: (r: MeasuredRun) => number) => median(bridgeRuns.map((r, i) => ratio(pick(r), pick(bareRuns[i] ?? r))));
    const byKind = bridgeRuns.map((r) => ({ run: r.label, ...Object.fromEntries(Object.entries(r.byKind).map(([k, v]) => [k, `${v.p50Ms} / ${v.p99Ms}`])) }));
    return {
      name: 'front-door',
      target: `bridge throughput within ${TARGET_RATIO}x of a bare Fastify route doing one Redis GET`,
      headline: { label: 'slowdown (bare req/s ÷ bridge req/s, median of rounds)', value: slowdown },
      met: slowdown <= TARGET_RATIO,
      rows: [
        ...[ceiling, ...bareRuns, ...bridgeRuns].map(runRow),
        {
          run: 'bridge ÷ bare (median of rounds)',
          'req/s': ratio(1, slowdown),
          'p50 ms': perRound((r) => r.p50Ms),
          'p99 ms': perRound((r) => r.p99Ms),
          'server CPU µs/req': perRound((r) => r.serverCpuUsPerRequest),
          'client CPU µs/req': perRound((r) => r.clientCpuUsPerRequest),
          errors: '',
        },
      ],
      notes: [
        `${CONCURRENCY} virtual users, each looping GET filter (miss) → POST → PATCH; each server primed ${PRIME_MS / 1000} s, then ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per run, rounds in A-B-B-A order.`,
        `bridge p50 / p99 ms by request kind: ${byKind.map((k) => JSON.stringify(k)).join('; ')}`,
      ],
      raw: { concurrency: CONCURRENCY, ceiling, bare: bareRuns, bridge: bridgeRuns },
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
}
