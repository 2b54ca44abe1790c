import { configFromObject } from '../src/config/load.js';
import { createRuntime } from '../src/runtime.js';
import type { ResourceStore } from '../src/store/types.js';
import { startChild, type BenchChild } from './lib/child.js';
import { basePathOf, benchConfig } from './lib/config.js';
import { filterByUserName, storedUserDoc } from './lib/entra.js';
import type { Scenario } from './lib/load.js';
import { measureLoad, prime, runRow, type MeasuredRun } from './lib/measure.js';
import { benchPrefix, connectRedis, deleteByPrefix } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { median, ratio } from './lib/stats.js';

/**
 * flat-cost: the same reads Entra makes (`GET /Users?filter=userName eq "…"` that finds the user,
 * and `GET /Users/<id>`) against a connection holding 100 users and one holding 20,000, served by
 * one bridge process, in alternating rounds. Product target: per-request cost independent of the
 * number of stored users (ratio ~1.0; "met" allows 20 % for noise). `BENCH_FLAT_USERS=100000`
 * runs the product's full 100 vs 100,000 (about half a minute more, for the seeding).
 */

const SMALL = 100;
const LARGE = largeCount(process.env.BENCH_FLAT_USERS);
const CONCURRENCY = 16;
const ROUNDS = 2;
const WARMUP_MS = 1_000;
const DURATION_MS = 5_000;
const PRIME_MS = 3_000;
const SEED_BATCH = 250;
const TOLERANCE = 1.2;

function largeCount(value: string | undefined): number {
  if (value === undefined || value === '') return 20_000;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1_000 || count > 1_000_000) throw new Error(`BENCH_FLAT_USERS must be an integer from 1000 to 1000000, not "${value}"`);
  return count;
}

interface SeededUser {
  id: string;
  userName: string;
}

/** Creates users straight in the store (as the API would after validation) and acks their outbox entries. */
async function seed(store: ResourceStore, count: number): Promise<SeededUser[]> {
  const users: SeededUser[] = [];
  for (let start = 0; start < count; start += SEED_BATCH) {
    const batch = Array.from({ length: Math.min(SEED_BATCH, count - start) }, (_, k) => storedUserDoc(start + k));
    const stored = await Promise.all(batch.map((doc) => store.create('User', doc)));
    await store.outboxAck(stored.map((s) => ({ type: 'User' as const, id: s.id, revision: s.revision })));
    users.push(...batch.map((doc) => ({ id: doc.id, userName: String(doc.userName) })));
  }
  return users;
}

/** Reads of users spread over the whole stored set (a stride that is coprime with its size). */
function reads(users: SeededUser[]): Scenario {
  return async (send, i) => {
    const user = users[(i * 7_919) % users.length];
    if (!user) return;
    await send(filterByUserName(user.userName));
    await send({ kind: 'get', method: 'GET', path: `/Users/${encodeURIComponent(user.id)}`, expect: 200 });
  };
}

export async function flatCost(): Promise<BenchmarkResult> {
  const prefix = benchPrefix('flat-cost');
  const redis = connectRedis();
  const config = benchConfig(prefix, [
    { id: 'small', targetUrl: 'http://127.0.0.1:9' },
    { id: 'large', targetUrl: 'http://127.0.0.1:9' },
  ]);
  let bridge: BenchChild | undefined;
  try {
    const seedStarted = Date.now();
    const runtime = await createRuntime(configFromObject(config.raw));
    const [small, large] = await Promise.all([
      seed(runtime.connection('small').store, SMALL),
      seed(runtime.connection('large').store, LARGE),
    ]).finally(() => runtime.close());
    const seedSeconds = (Date.now() - seedStarted) / 1000;

    const child = await startChild({ kind: 'bridge', config: config.raw, api: true, worker: false });
    bridge = child;
    const shared = (connection: string, users: SeededUser[]) => ({
      basePath: basePathOf(connection),
      headers: { authorization: `Bearer ${config.secret}` },
      concurrency: CONCURRENCY,
      scenario: reads(users),
    });
    await prime(child, shared('small', small), PRIME_MS / 2);
    await prime(child, shared('large', large), PRIME_MS / 2);

    const smallRuns: MeasuredRun[] = [];
    const largeRuns: MeasuredRun[] = [];
    const runSmall = async (round: number) =>
      smallRuns.push(await measureLoad(`${SMALL} users, round ${round}`, child, redis, { ...shared('small', small), warmupMs: WARMUP_MS, durationMs: DURATION_MS }));
    const runLarge = async (round: number) =>
      largeRuns.push(await measureLoad(`${LARGE} users, round ${round}`, child, redis, { ...shared('large', large), warmupMs: WARMUP_MS, durationMs: DURATION_MS }));
    // A-B-B-A order, so a slow drift of the machine's load weighs on both sides alike.
    for (let round = 1; round <= ROUNDS; round++) {
      if (round % 2 === 1) {
        await runSmall(round);
        await runLarge(round);
      } else {
        await runLarge(round);
        await runSmall(round);
      }
    }

    const perRound = (pick: (r: MeasuredRun) => number) => median(largeRuns.map((r, i) => ratio(pick(r), pick(smallRuns[i] ?? r))));
    const kindP50 = (kind: string) => (r: MeasuredRun) => r.byKind[kind]?.p50Ms ?? Number.NaN;
    const cpuRatio = perRound((r) => r.serverCpuUsPerRequest);
    const byKind = [...smallRuns, ...largeRuns].map(
      (r) => `${r.label}: filter ${r.byKind.filter?.p50Ms} / ${r.byKind.filter?.p99Ms}, get ${r.byKind.get?.p50Ms} / ${r.byKind.get?.p99Ms}`,
    );
    return {
      name: 'flat-cost',
      target: `per-request cost with ${LARGE.toLocaleString('en-US')} stored users ÷ with ${SMALL} ~ 1.0`,
      headline: { label: `server CPU per request, ${LARGE} ÷ ${SMALL} users (median of rounds)`, value: cpuRatio },
      met: cpuRatio <= TOLERANCE,
      rows: [
        ...[...smallRuns, ...largeRuns].map(runRow),
        {
          run: `${LARGE} ÷ ${SMALL} users (median of rounds)`,
          'req/s': perRound((r) => r.requestsPerSecond),
          'p50 ms': perRound((r) => r.p50Ms),
          'p99 ms': perRound((r) => r.p99Ms),
          'server CPU µs/req': cpuRatio,
          'client CPU µs/req': perRound((r) => r.clientCpuUsPerRequest),
          errors: '',
        },
      ],
      notes: [
        `seeded ${SMALL + LARGE} users through the runtime's store in ${seedSeconds.toFixed(1)} s; ${CONCURRENCY} virtual users, each looping filter GET (hit) → GET by id; primed ${PRIME_MS / 1000} s, then ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per run, A-B-B-A order.`,
        `p50 ratio by kind: filter ${perRound(kindP50('filter'))}, get ${perRound(kindP50('get'))}`,
        `p50 / p99 ms by kind: ${byKind.join('; ')}`,
      ],
      raw: { small: SMALL, large: LARGE, concurrency: CONCURRENCY, seedSeconds, smallRuns, largeRuns },
    };
  } finally {
    await bridge?.stop();
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
}
