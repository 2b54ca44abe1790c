import { startChild, type BenchChild } from './lib/child.js';
import { basePathOf, benchConfig } from './lib/config.js';
import { entraUserBody, filterByUserName, storedUserDoc, userName } from './lib/entra.js';
import { startFastTarget } from './lib/fast-target.js';
import { runIterations, type Scenario } from './lib/load.js';
import { configFromObject } from '../src/config/load.js';
import { BENCH_REDIS_URL, benchPrefix, connectRedis, deleteByPrefix, memoryByPrefix, outboxKey, usedMemory } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { ratio, round } from './lib/stats.js';
import { waitFor } from './lib/wait.js';

/**
 * end-to-end: 10,000 users provisioned the way Entra does it (filter GET that misses, then POST)
 * over HTTP with bounded concurrency, against one bridge process running API and worker (the
 * default `serve`), until every user exists in a fast target. Reports the seconds and Redis
 * memory per stored user. Product targets: <= 15 s on 2 cores, <= 2 KB per user.
 * `split` runs the API (`serve --no-worker`) and the worker (`worker`) as two processes instead,
 * to show what scaling the roles apart buys on the same 2 cores.
 * Baselines in the same run: the same client sending the same requests to a bare Fastify route
 * doing one Redis GET (the floor of HTTP + client + one round trip on this machine), and the
 * size of the user's SCIM JSON (the floor of storing it at all).
 */

const USERS = 10_000;
const CONCURRENCY = 32;
const CONNECTION = 'e2e';
const TARGET_SECONDS = 15;
const TARGET_BYTES_PER_USER = 2_048;
/** Stops waiting here so the benchmark stays bounded; a miss is reported, not hidden. */
const TIMEOUT_MS = 55_000;

function provision(): Scenario {
  return async (send, i) => {
    await send(filterByUserName(userName(i)));
    await send({ kind: 'create', method: 'POST', path: '/Users', body: entraUserBody(i), expect: 201 });
  };
}

/**
 * `:c:{<connection>}:…` keys are the store (grouped by kind, e.g. `store User:doc`,
 * `store User:ix:userName`), `:c:{<connection>}:tlog:…` the ops timelines, `:{bull}:…` keys the
 * delivery queues.
 */
function keyGroup(rest: string): string {
  if (/^:c:[^:]+:tlog:/.test(rest)) return 'timeline';
  const store = /^:c:[^:]+:(\w+:(?:doc|ix:\w+|order|seq)|outbox|memberOf|lock)/.exec(rest);
  if (store) return `store ${store[1]}`;
  if (rest.startsWith(':c:')) return 'store other';
  if (rest.startsWith(':{bull}:')) return 'queue';
  return 'other';
}

function sumOf(groups: Record<string, number>, prefix: string): number {
  return Object.entries(groups).reduce((sum, [name, bytes]) => (name.startsWith(prefix) ? sum + bytes : sum), 0);
}

export async function endToEnd({ split }: { split: boolean }): Promise<BenchmarkResult> {
  // One name for both variants: key names are part of the memory per user, so the two must
  // store keys of the same length to be compared (the random part keeps them apart).
  const prefix = benchPrefix('e2e');
  const redis = connectRedis();
  const target = await startFastTarget();
  const config = benchConfig(prefix, [{ id: CONNECTION, targetUrl: target.url }]);
  const client = { basePath: basePathOf(CONNECTION), headers: { authorization: `Bearer ${config.secret}` }, concurrency: CONCURRENCY, total: USERS, scenario: provision() };
  const children: BenchChild[] = [];
  const cpu = async () => (await Promise.all(children.map((c) => c.cpuSeconds()))).reduce((a, b) => a + b, 0);
  try {
    const bareKey = `${prefix}:bare:key`;
    await redis.set(bareKey, JSON.stringify({ hello: 'world' }));
    const bare = await startChild({ kind: 'bare', redisUrl: BENCH_REDIS_URL, key: bareKey, basePath: basePathOf(CONNECTION) });
    const bareStarted = Date.now();
    await runIterations({ ...client, origin: bare.url ?? '' });
    const bareSeconds = (Date.now() - bareStarted) / 1000;
    await bare.stop();

    const roles = split ? [{ api: true, worker: false }, { api: false, worker: true }] : [{ api: true, worker: true }];
    children.push(...(await Promise.all(roles.map((role) => startChild({ kind: 'bridge', config: config.raw, ...role })))));
    const api = children[0];
    if (!api?.url) throw new Error('the API process reported no URL');
    const memoryBefore = await usedMemory(redis);
    const cpuBefore = await cpu();
    const started = Date.now();
    const load = await runIterations({ ...client, origin: api.url });
    const apiSeconds = (Date.now() - started) / 1000;
    const complete = await waitFor(async () => (await target.stats()).creates >= USERS, Math.max(0, TIMEOUT_MS - (Date.now() - started)));
    const delivered = await target.stats();
    const seconds = ((complete ? delivered.lastCallAt : Date.now()) - started) / 1000;
    const cpuSeconds = (await cpu()) - cpuBefore;
    // Let the last jobs move to completed before measuring what stays in Redis.
    await waitFor(async () => (await redis.exists(outboxKey(configFromObject(config.raw), CONNECTION))) === 0, 5_000);
    const memoryAfter = await usedMemory(redis);
    const byGroup = await memoryByPrefix(redis, prefix, keyGroup);

    const perUser = (bytes: number | undefined) => Math.round((bytes ?? 0) / USERS);
    const infoPerUser = perUser(memoryAfter - memoryBefore);
    const storeBytes = sumOf(byGroup, 'store');
    const keyedPerUser = perUser(sumOf(byGroup, ''));
    const storeDetail = Object.entries(byGroup)
      .filter(([name]) => name.startsWith('store '))
      .map(([name, bytes]) => `${name.slice('store '.length)} ${perUser(bytes)}`)
      .join(', ');
    const jsonBytes = Buffer.byteLength(JSON.stringify(storedUserDoc(USERS)));
    return {
      name: split ? 'end-to-end-split' : 'end-to-end',
      target: `${split ? '(API and worker as 2 processes) ' : ''}${USERS.toLocaleString('en-US')} users in the target within ${TARGET_SECONDS} s; Redis <= ${TARGET_BYTES_PER_USER} B per stored user`,
      headline: { label: 'seconds until all users are in the target', value: round(seconds, 1) },
      met: complete && load.errors === 0 && seconds <= TARGET_SECONDS && infoPerUser <= TARGET_BYTES_PER_USER,
      rows: [
        { measure: 'baseline: same requests to bare Fastify + 1 Redis GET', value: `${round(bareSeconds, 1)} s (${Math.round((2 * USERS) / bareSeconds)} req/s)` },
        { measure: 'all users answered by the bridge API (GET + POST each)', value: `${round(apiSeconds, 1)} s (${Math.round((2 * USERS) / apiSeconds)} req/s)` },
        { measure: 'all users present in the target', value: complete ? `${round(seconds, 1)} s` : `NOT after ${round(seconds, 1)} s (${delivered.creates} of ${USERS})` },
        { measure: 'ratio: in the target ÷ bare baseline', value: `${ratio(seconds, bareSeconds)}x` },
        { measure: 'API errors', value: load.errors === 0 ? '0' : `${load.errors} (first: ${load.firstError})` },
        { measure: split ? 'bridge processes CPU (API + worker)' : 'bridge process CPU', value: `${round(cpuSeconds, 1)} s (${Math.round((cpuSeconds * 1e6) / USERS)} µs per user)` },
        { measure: 'Redis used_memory growth per user (INFO, whole server)', value: `${infoPerUser} B` },
        { measure: 'Redis MEMORY USAGE per user, store keys', value: `${perUser(storeBytes)} B` },
        { measure: 'Redis MEMORY USAGE per user, ops timelines (history of changes and attempts)', value: `${perUser(byGroup.timeline ?? 0)} B` },
        { measure: 'Redis MEMORY USAGE per user, queue keys (jobs kept, events)', value: `${perUser(byGroup.queue)} B` },
        { measure: 'ratio: INFO growth per user ÷ the user\'s stored SCIM JSON', value: `${ratio(infoPerUser, jsonBytes)}x (JSON ${jsonBytes} B)` },
      ],
      notes: [
        `${CONCURRENCY} concurrent clients; ${split ? 'an API process and a worker process' : 'one bridge process (API + worker)'}, delivery concurrency 10; target, client and bridge share the 2 cores with Redis.`,
        `store bytes per user by key kind: ${storeDetail}.`,
        `INFO growth includes other clients of the shared Redis and allocator overhead; the MEMORY USAGE sum (${keyedPerUser} B/user) counts only this run's keys.`,
        `each target on its own: ${USERS.toLocaleString('en-US')} users in ${round(seconds, 1)} s (≤ ${TARGET_SECONDS} s: ${complete && load.errors === 0 && seconds <= TARGET_SECONDS ? 'met' : 'missed'}); ${infoPerUser} B of Redis per user (≤ ${TARGET_BYTES_PER_USER} B: ${infoPerUser <= TARGET_BYTES_PER_USER ? 'met' : 'missed'}). The headline counts as met only when both are.`,
      ],
      raw: { users: USERS, concurrency: CONCURRENCY, bareSeconds, jsonBytes, apiSeconds, seconds, complete, apiErrors: load.errors, cpuSeconds, targetCalls: delivered.calls, memoryBefore, memoryAfter, memoryByGroup: byGroup },
    };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await target.close();
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
}
