import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { deliveryJobName, deliveryJobOptions } from '../src/delivery/queues.js';
import { deliverySchema } from '../src/config/schema.js';
import { startChild, type BenchChild } from './lib/child.js';
import { basePathOf, benchConfig } from './lib/config.js';
import { entraUserBody, entraUserPatch, filterByUserName, userName } from './lib/entra.js';
import { captureFloor, floorNote } from './lib/floor.js';
import type { Scenario } from './lib/load.js';
import { measureLoad, prime, type MeasuredRun } from './lib/measure.js';
import { BENCH_REDIS_URL, benchPrefix, connectRedis, deleteByPrefix, redisCpuSeconds } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { ratio } from './lib/stats.js';

/**
 * front-door-kinds: where the front door's time goes. Each of Entra's request kinds runs alone
 * (filter GET that misses, POST, PATCH of an existing user) against the bridge API and against
 * the bare Fastify route, and a last row measures what queueing one delivery job with BullMQ
 * (`Queue.addBulk`, the bridge's own job options, 32 jobs per call as under load) costs by
 * itself, in the client and in Redis: the outbox relay's cost per accepted write, paid by the
 * worker, not by the API. The target is the same as front-door's (within 3× of bare in CPU per
 * request); this benchmark shows which kind misses it.
 *
 * The floor column is what bounds each kind (lib/floor.ts): a Fastify route that parses the
 * same request, sends the Redis commands one bridge request of that kind sent (a script that
 * does nothing in place of the bridge's) and answers what the bridge answered. It is the HTTP,
 * JSON and Redis-client work of a request of that shape, before any of the bridge's own;
 * "floor ÷ bare" shows how much of the 3× it uses up.
 */

const CONCURRENCY = 32;
const WARMUP_MS = 1_000;
const DURATION_MS = 4_000;
const PRIME_MS = 2_000;
const CONNECTION = 'bench';
const TARGET_RATIO = 3;
const QUEUE_JOBS = 10_000;
const QUEUE_BATCH = 32;
/**
 * The PATCH row patches the users the POST row created last, as Entra patches a user right after
 * the GET that found it: the API process then holds its copy (recent-users.ts keeps 10,000), and
 * the PATCH is one Redis command, as in the front-door mix.
 */
const PATCHED_USERS = 5_000;

export async function frontDoorKinds(): Promise<BenchmarkResult> {
  const prefix = benchPrefix('front-door-kinds');
  const redis = connectRedis();
  const config = benchConfig(prefix, [{ id: CONNECTION, targetUrl: 'http://127.0.0.1:9' }]);
  const basePath = basePathOf(CONNECTION);
  const bareKey = `${prefix}:bare:key`;
  const children: BenchChild[] = [];
  const created: string[] = [];
  let createdCount = 0;
  const notCreated = new Set(['bare']);
  const scenarios: Array<[string, Scenario]> = [
    ['filter GET (miss)', async (send, i) => void (await send(filterByUserName(userName(i))))],
    [
      'POST /Users',
      async (send, i) => {
        const res = await send({ kind: 'create', method: 'POST', path: '/Users', body: entraUserBody(i), expect: 201 });
        const id = (res.json as { id?: unknown } | undefined)?.id;
        // Only the bridge's ids: the bare and floor routes answer every POST with one fixed id. The
        // latest PATCHED_USERS, as a ring: those the API process still holds copies of.
        if (typeof id === 'string' && !notCreated.has(id)) created[createdCount++ % PATCHED_USERS] = id;
      },
    ],
    [
      'PATCH /Users/<id>',
      async (send, i) => {
        const id = created[i % Math.max(1, created.length)] ?? 'none';
        await send({ kind: 'patch', method: 'PATCH', path: `/Users/${encodeURIComponent(id)}`, body: entraUserPatch(i), expect: 200 });
      },
    ],
  ];
  try {
    await redis.set(bareKey, JSON.stringify({ hello: 'world' }));
    const [bare, bridge] = await Promise.all([
      startChild({ kind: 'bare', redisUrl: BENCH_REDIS_URL, key: bareKey, basePath }),
      startChild({ kind: 'bridge', config: config.raw, api: true, worker: false }),
    ]);
    children.push(bare, bridge);
    const captured = await captureFloor(bridge, basePath, config.secret);
    const floor = await startChild({ kind: 'floor', redisUrl: BENCH_REDIS_URL, routes: captured.routes });
    children.push(floor);
    let iteration = captured.firstFreeIteration;
    notCreated.add(captured.answeredId);
    const rows: Array<Record<string, string | number>> = [];
    const ratios: number[] = [];
    for (const [label, scenario] of scenarios) {
      const shared = { basePath, headers: { authorization: `Bearer ${config.secret}` }, concurrency: CONCURRENCY, scenario };
      const runs: Record<'bare' | 'bridge' | 'floor', MeasuredRun | undefined> = { bare: undefined, bridge: undefined, floor: undefined };
      for (const [side, child] of [['bridge', bridge], ['bare', bare], ['floor', floor]] as const) {
        iteration = await prime(child, { ...shared, firstIteration: iteration }, PRIME_MS);
        const run = await measureLoad(`${label}, ${side}`, child, redis, { ...shared, warmupMs: WARMUP_MS, durationMs: DURATION_MS, firstIteration: iteration });
        iteration = run.nextIteration;
        runs[side] = run;
      }
      const b = runs.bridge!;
      const a = runs.bare!;
      const f = runs.floor!;
      const cpuRatio = ratio(b.serverCpuUsPerRequest, a.serverCpuUsPerRequest);
      ratios.push(cpuRatio);
      const measured = [b, a, f];
      const errors = measured.reduce((sum, run) => sum + run.errors, 0);
      rows.push({
        kind: label,
        'bridge req/s': Math.round(b.requestsPerSecond),
        'bridge CPU µs/req': b.serverCpuUsPerRequest,
        'Redis CPU µs/req': b.redisCpuUsPerRequest,
        'bare CPU µs/req': a.serverCpuUsPerRequest,
        'CPU bridge ÷ bare': cpuRatio,
        'floor CPU µs/req': f.serverCpuUsPerRequest,
        'floor ÷ bare': ratio(f.serverCpuUsPerRequest, a.serverCpuUsPerRequest),
        'bridge ÷ floor': ratio(b.serverCpuUsPerRequest, f.serverCpuUsPerRequest),
        errors: errors === 0 ? 0 : `${errors} (first: ${measured.find((run) => run.firstError)?.firstError ?? '?'})`,
      });
    }
    const queued = await queueCost(prefix);
    rows.push({
      kind: `BullMQ addBulk alone (per job, ${QUEUE_BATCH} per call)`,
      'bridge req/s': queued.jobsPerSecond,
      'bridge CPU µs/req': queued.clientUs,
      'Redis CPU µs/req': queued.redisUs,
      'bare CPU µs/req': '',
      'CPU bridge ÷ bare': '',
      'floor CPU µs/req': '',
      'floor ÷ bare': '',
      'bridge ÷ floor': '',
      errors: 0,
    });
    const worst = Math.max(...ratios);
    return {
      name: 'front-door-kinds',
      target: `each request kind within ${TARGET_RATIO}x of bare Fastify + 1 Redis GET in server CPU (where the front door's time goes)`,
      headline: { label: 'worst kind: bridge CPU ÷ bare CPU per request', value: worst },
      met: worst <= TARGET_RATIO,
      rows,
      notes: [
        `${CONCURRENCY} virtual users per run, one request kind at a time; each side primed ${PRIME_MS / 1000} s, then ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured. Redis CPU is the whole server's (indicative).`,
        'Every accepted write becomes one delivery job, queued by the outbox relay next to the worker (not by the API); the last row is that job alone, measured in this process.',
        floorNote(captured),
        `Within ${TARGET_RATIO}x of bare leaves a write ${TARGET_RATIO}x bare − floor for all of the bridge's own work (checking, normalising, patching, deflating, indexing, queueing).`,
      ],
      raw: { rows, queued, floor: captured.summary },
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
}

/** CPU of queueing delivery jobs with the bridge's own options, per job, in this process and in Redis. */
async function queueCost(prefix: string): Promise<{ jobsPerSecond: number; clientUs: number; redisUs: number }> {
  const connection = new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('delivery-kinds', { connection, prefix: `${prefix}:{bull}` });
  const delivery = deliverySchema.parse({});
  const jobs = (from: number) =>
    Array.from({ length: QUEUE_BATCH }, (_, j) => {
      const data = { connectionId: CONNECTION, type: 'User' as const, id: `user-${from + j}`, revision: 1 };
      return { name: deliveryJobName(data), data, opts: deliveryJobOptions(data, delivery) };
    });
  try {
    await queue.addBulk(jobs(-QUEUE_BATCH));
    const redisBefore = await redisCpuSeconds(connection);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let from = 0; from < QUEUE_JOBS; from += QUEUE_BATCH) await queue.addBulk(jobs(from));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const redisSeconds = (await redisCpuSeconds(connection)) - redisBefore;
    return {
      jobsPerSecond: Math.round(QUEUE_JOBS / seconds),
      clientUs: Math.round((cpu.user + cpu.system) / QUEUE_JOBS),
      redisUs: Math.round((redisSeconds * 1e6) / QUEUE_JOBS),
    };
  } finally {
    await queue.close();
    await connection.quit();
  }
}
