import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { configFromObject } from '../src/config/load.js';
import { queueName } from '../src/delivery/types.js';
import { bullPrefix } from '../src/runtime.js';
import { startChild, type BenchChild } from './lib/child.js';
import { basePathOf, benchConfig } from './lib/config.js';
import { entraUserBody, filterByUserName } from './lib/entra.js';
import { startFastTarget, type FastTarget } from './lib/fast-target.js';
import { runIterations, type Scenario } from './lib/load.js';
import { waitForDelivered } from './lib/queue-drain.js';
import { BENCH_REDIS_URL, benchPrefix, connectRedis, deleteByPrefix, outboxKey, redisCpuSeconds } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { ratio } from './lib/stats.js';

/**
 * change-cost: what one change from Entra costs the bridge end to end, in CPU, and where: the
 * API process that answers it, the worker process that delivers it (outbox relay, BullMQ, the
 * target calls) and Redis. It runs compare's load shape (create = `userName eq` probe + POST,
 * user PATCH, a member added to a group and removed again, user DELETE) against an API process
 * and a worker process (the Helm chart's layout) delivering to the fast target, and lets each
 * phase's deliveries finish before the next phase starts, so every CPU second is charged to the
 * operation that caused it. Baseline in the same run: one request to a bare Fastify route doing
 * one Redis GET, server and Redis CPU together. A diagnosis of `compare` (why the bridge, which
 * stores, queues and delivers every change, is not several times a gateway that keeps users in
 * memory), with no target of its own.
 */

const USERS = Number(process.env.BENCH_CHANGE_COST_USERS ?? 2_000);
const CONCURRENCY = 16;
const USERS_PER_GROUP = 100;
const CONNECTION = 'cost';
/** The target quiet this long (and outbox and queue empty): the phase's deliveries are done. */
const QUIET_MS = 300;
const SETTLE_TIMEOUT_MS = 60_000;
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const KINDS = ['create', 'patch', 'memberAdd', 'memberRemove', 'delete'] as const;
type Kind = (typeof KINDS)[number];
const LABELS: Record<Kind, string> = {
  create: 'create (probe + POST)',
  patch: 'user PATCH',
  memberAdd: 'member add (group PATCH)',
  memberRemove: 'member remove (group PATCH)',
  delete: 'user DELETE',
};

interface PhaseCost {
  operations: number;
  apiPerSecond: number;
  apiUs: number;
  workerUs: number;
  redisUs: number;
  targetCalls: number;
  errors: number;
  firstError?: string;
}

interface Setup {
  api: BenchChild;
  worker: BenchChild;
  target: FastTarget;
  redis: Redis;
  queue: Queue;
  outbox: string;
  basePath: string;
  headers: Record<string, string>;
}

async function settle(setup: Setup): Promise<void> {
  if (!(await waitForDelivered(setup, QUIET_MS, SETTLE_TIMEOUT_MS))) throw new Error('the worker did not deliver every change within 60 s');
}

/** Runs `total` iterations of `scenario` and charges the CPU of all three parts to them, deliveries included. */
async function phase(setup: Setup, total: number, scenario: Scenario): Promise<PhaseCost> {
  await settle(setup);
  const cpu = async () => Promise.all([setup.api.cpuSeconds(), setup.worker.cpuSeconds(), redisCpuSeconds(setup.redis)]);
  const calls = async () => (await setup.target.stats()).calls;
  const [api0, worker0, redis0] = await cpu();
  const calls0 = await calls();
  const started = Date.now();
  const load = await runIterations({ origin: setup.api.url ?? '', basePath: setup.basePath, headers: setup.headers, concurrency: CONCURRENCY, total, scenario });
  const seconds = (Date.now() - started) / 1000;
  const api1 = await setup.api.cpuSeconds();
  await settle(setup);
  const [, worker1, redis1] = await cpu();
  const perOp = (s: number) => Math.round((s * 1e6) / total);
  return {
    operations: total,
    apiPerSecond: Math.round(total / seconds),
    apiUs: perOp(api1 - api0),
    workerUs: perOp(worker1 - worker0),
    redisUs: perOp(redis1 - redis0),
    targetCalls: ((await calls()) - calls0) / total,
    errors: load.errors,
    ...(load.firstError ? { firstError: load.firstError } : {}),
  };
}

/** One round of compare's load shape; groups are created and deleted untimed. */
async function round(setup: Setup, tag: string): Promise<Record<Kind, PhaseCost>> {
  const ids: string[] = [];
  const groups: string[] = [];
  const create = await phase(setup, USERS, async (send, i) => {
    const body = { ...entraUserBody(i), userName: `cost-${tag}-${i}@contoso.example` };
    await send(filterByUserName(body.userName));
    const created = await send({ kind: 'create', method: 'POST', path: '/Users', body, expect: 201 });
    ids[i] = (created.json as { id: string }).id;
  });
  const patch = await phase(setup, USERS, async (send, i) => {
    const body = {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'displayName', value: `Cost User ${i} (renamed)` },
        { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Marketing' },
      ],
    };
    await send({ kind: 'patch', method: 'PATCH', path: `/Users/${encodeURIComponent(ids[i] ?? '')}`, body, expect: 200 });
  });
  await phase(setup, Math.ceil(USERS / USERS_PER_GROUP), async (send, g) => {
    const body = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `Cost Group ${tag} ${g}`, externalId: randomUUID() };
    groups[g] = ((await send({ kind: 'group', method: 'POST', path: '/Groups', body, expect: 201 })).json as { id: string }).id;
  });
  const member = (op: 'Add' | 'Remove'): Scenario =>
    async (send, i) => {
      const body = { schemas: [PATCH_OP], Operations: [{ op, path: 'members', value: [{ value: ids[i] }] }] };
      await send({ kind: 'member', method: 'PATCH', path: `/Groups/${encodeURIComponent(groups[i % groups.length] ?? '')}`, body, expect: 204 });
    };
  const memberAdd = await phase(setup, USERS, member('Add'));
  const memberRemove = await phase(setup, USERS, member('Remove'));
  const remove = await phase(setup, USERS, async (send, i) => {
    await send({ kind: 'delete', method: 'DELETE', path: `/Users/${encodeURIComponent(ids[i] ?? '')}`, expect: 204 });
  });
  await phase(setup, groups.length, async (send, g) => {
    await send({ kind: 'delete', method: 'DELETE', path: `/Groups/${encodeURIComponent(groups[g] ?? '')}`, expect: 204 });
  });
  return { create, patch, memberAdd, memberRemove, delete: remove };
}

/** CPU of one request to the bare route, server and Redis, at the same concurrency. */
async function bareRequest(redis: Redis, prefix: string, basePath: string): Promise<{ serverUs: number; redisUs: number }> {
  const key = `${prefix}:bare:key`;
  await redis.set(key, JSON.stringify({ hello: 'world' }));
  const bare = await startChild({ kind: 'bare', redisUrl: BENCH_REDIS_URL, key, basePath });
  try {
    const scenario: Scenario = async (send, i) => void (await send(filterByUserName(`bare-${i}@contoso.example`)));
    const options = { origin: bare.url ?? '', basePath, headers: {}, concurrency: CONCURRENCY, scenario };
    await runIterations({ ...options, total: USERS });
    const [server0, redis0] = [await bare.cpuSeconds(), await redisCpuSeconds(redis)];
    const total = USERS * 5;
    await runIterations({ ...options, total });
    const [server1, redis1] = [await bare.cpuSeconds(), await redisCpuSeconds(redis)];
    return { serverUs: ((server1 - server0) * 1e6) / total, redisUs: ((redis1 - redis0) * 1e6) / total };
  } finally {
    await bare.stop();
  }
}

export async function changeCost(): Promise<BenchmarkResult> {
  const prefix = benchPrefix('change-cost');
  const redis = connectRedis();
  const target = await startFastTarget();
  const config = benchConfig(prefix, [{ id: CONNECTION, targetUrl: target.url }]);
  const bridgeConfig = configFromObject(config.raw);
  const queue = new Queue(queueName(CONNECTION), { connection: redis, prefix: bullPrefix(bridgeConfig) });
  const children: BenchChild[] = [];
  try {
    const basePath = basePathOf(CONNECTION);
    const bare = await bareRequest(redis, prefix, basePath);
    const [api, worker] = await Promise.all([
      startChild({ kind: 'bridge', config: config.raw, api: true, worker: false }),
      startChild({ kind: 'bridge', config: config.raw, api: false, worker: true }),
    ]);
    children.push(api, worker);
    const setup: Setup = { api, worker, target, redis, queue, outbox: outboxKey(bridgeConfig, CONNECTION), basePath, headers: { authorization: `Bearer ${config.secret}` } };
    // A first, unmeasured round: the JIT has compiled every path before the measured one.
    await round(setup, 'warm');
    const measured = await round(setup, 'measured');
    const bareUs = bare.serverUs + bare.redisUs;
    const total = (cost: PhaseCost) => cost.apiUs + cost.workerUs + cost.redisUs;
    const errors = KINDS.reduce((sum, kind) => sum + measured[kind].errors, 0);
    const firstError = KINDS.map((kind) => measured[kind].firstError).find((e) => e !== undefined);
    return {
      name: 'change-cost',
      target: 'a diagnosis of compare: CPU per Entra operation, delivery included, in the API process, the worker process and Redis',
      headline: { label: 'user PATCH end to end, CPU ÷ one bare request', value: ratio(total(measured.patch), bareUs) },
      rows: [
        {
          operation: 'bare Fastify + 1 Redis GET (one request)',
          'API ops/s': '',
          'API µs/op': Math.round(bare.serverUs),
          'worker µs/op': '',
          'Redis µs/op': Math.round(bare.redisUs),
          'total µs/op': Math.round(bareUs),
          '÷ bare request': 1,
          'target calls/op': '',
        },
        ...KINDS.map((kind) => {
          const cost = measured[kind];
          return {
            operation: LABELS[kind],
            'API ops/s': cost.apiPerSecond,
            'API µs/op': cost.apiUs,
            'worker µs/op': cost.workerUs,
            'Redis µs/op': cost.redisUs,
            'total µs/op': total(cost),
            '÷ bare request': ratio(total(cost), bareUs),
            'target calls/op': Math.round(cost.targetCalls * 100) / 100,
          };
        }),
      ],
      notes: [
        `${USERS} users, ${Math.ceil(USERS / USERS_PER_GROUP)} groups, ${CONCURRENCY} concurrent; API and worker as two processes, delivering to the fast target; each phase's deliveries finish before the next phase (worker and Redis CPU are counted until then). One unmeasured round first. Redis CPU is the whole server's (indicative).`,
        ...(errors > 0 ? [`${errors} operations failed; first: ${firstError ?? '?'}`] : []),
      ],
      raw: { users: USERS, bare, measured },
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await queue.close();
    await target.close();
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
}
