import { startChild, type BenchChild } from './lib/child.js';
import { basePathOf, benchConfig } from './lib/config.js';
import { entraUserBody, entraUserPatch, filterByUserName, userName } from './lib/entra.js';
import { captureFloor, floorNote } from './lib/floor.js';
import type { Scenario } from './lib/load.js';
import { measureLoad, prime, runRow, type MeasuredRun } from './lib/measure.js';
import { BENCH_REDIS_URL, benchPrefix, connectRedis, deleteByPrefix } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { median, ratio, round } from './lib/stats.js';

/**
 * front-door: Entra's per-user mix (filter GET that misses, POST, PATCH) against the bridge's
 * API (API-only, no worker) and against a bare Fastify route doing one Redis GET, with the same
 * client and concurrency, in alternating rounds. Product target: the bridge within 3× of bare.
 * A third side, the floor (lib/floor.ts), answers the same mix with the same Redis commands and
 * answers as the bridge but none of its work: what the mix costs on this stack at the least.
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
    const floorCapture = await captureFloor(bridge, basePath, config.secret);
    const floor = await startChild({ kind: 'floor', redisUrl: BENCH_REDIS_URL, routes: floorCapture.routes });
    children.push(floor);

    const shared = { basePath, headers: { authorization: `Bearer ${config.secret}` }, concurrency: CONCURRENCY, scenario: entraMix() };
    let iteration = floorCapture.firstFreeIteration;
    const load = async (label: string, child: BenchChild) => {
      const run = await measureLoad(label, child, redis, { ...shared, warmupMs: WARMUP_MS, durationMs: DURATION_MS, firstIteration: iteration });
      iteration = run.nextIteration;
      return run;
    };

    const ceiling = await load('client ceiling (node:http constant answer)', echo);
    iteration = await prime(bare, { ...shared, firstIteration: iteration }, PRIME_MS);
    iteration = await prime(bridge, { ...shared, firstIteration: iteration }, PRIME_MS);
    iteration = await prime(floor, { ...shared, firstIteration: iteration }, PRIME_MS);
    const bareRuns: MeasuredRun[] = [];
    const bridgeRuns: MeasuredRun[] = [];
    const floorRuns: MeasuredRun[] = [];
    // A-B-C-C-B-A order, so a slow drift of the machine's load weighs on every side alike.
    for (let round = 1; round <= ROUNDS; round++) {
      const sides = [
        async () => bareRuns.push(await load(`bare Fastify + 1 Redis GET, round ${round}`, bare)),
        async () => bridgeRuns.push(await load(`bridge API, round ${round}`, bridge)),
        async () => floorRuns.push(await load(`floor: the bridge's Redis commands and answers, none of its work, round ${round}`, floor)),
      ];
      for (const side of round % 2 === 1 ? sides : sides.reverse()) await side();
    }

    const slowdown = median(bareRuns.map((b, i) => ratio(b.requestsPerSecond, bridgeRuns[i]?.requestsPerSecond ?? 0)));
    const perRound = (pick: (r: MeasuredRun) => number, runs = bridgeRuns, against = bareRuns) => median(runs.map((r, i) => ratio(pick(r), pick(against[i] ?? r))));
    const ratioRow = (run: string, runs: MeasuredRun[], against: MeasuredRun[]) => ({
      run,
      'req/s': perRound((r) => r.requestsPerSecond, runs, against),
      'p50 ms': perRound((r) => r.p50Ms, runs, against),
      'p99 ms': perRound((r) => r.p99Ms, runs, against),
      'server CPU µs/req': perRound((r) => r.serverCpuUsPerRequest, runs, against),
      'client CPU µs/req': perRound((r) => r.clientCpuUsPerRequest, runs, against),
      errors: '',
    });
    const floorCpu = perRound((r) => r.serverCpuUsPerRequest, floorRuns, bareRuns);
    const byKind = bridgeRuns.map((r) => ({ run: r.label, ...Object.fromEntries(Object.entries(r.byKind).map(([k, v]) => [k, `${v.p50Ms} / ${v.p99Ms}`])) }));
    return {
      name: 'front-door',
      target: `bridge throughput within ${TARGET_RATIO}x of a bare Fastify route doing one Redis GET`,
      headline: { label: 'slowdown (bare req/s ÷ bridge req/s, median of rounds)', value: slowdown },
      met: slowdown <= TARGET_RATIO,
      rows: [
        ...[ceiling, ...bareRuns, ...bridgeRuns, ...floorRuns].map(runRow),
        { ...ratioRow('bridge ÷ bare (median of rounds)', bridgeRuns, bareRuns), 'req/s': ratio(1, slowdown) },
        ratioRow('floor ÷ bare (median of rounds)', floorRuns, bareRuns),
        ratioRow('bridge ÷ floor (median of rounds)', bridgeRuns, floorRuns),
      ],
      notes: [
        `${CONCURRENCY} virtual users, each looping GET filter (miss) → POST → PATCH; each server primed ${PRIME_MS / 1000} s, then ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per run, rounds in A-B-C-C-B-A order (bare, bridge, floor).`,
        `bridge p50 / p99 ms by request kind: ${byKind.map((k) => JSON.stringify(k)).join('; ')}`,
        floorNote(floorCapture),
        `The floor alone costs ${floorCpu}x bare in server CPU per request: within ${TARGET_RATIO}x would leave the bridge's own work (checking, normalising, patching, deflating, indexing, queueing) ${round(Math.max(0, TARGET_RATIO - floorCpu), 2)}x bare.`,
      ],
      raw: { concurrency: CONCURRENCY, ceiling, bare: bareRuns, bridge: bridgeRuns, floor: floorRuns, floorCommands: floorCapture.summary },
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
}
