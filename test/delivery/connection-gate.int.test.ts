import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryJobId } from '../../src/delivery/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { healthy, startConnection, waitFor, type ConnectionHarness } from './connection-harness.js';

/**
 * The connection gate on real Redis, BullMQ and loopback targets: a 429 holds back the jobs that
 * are already running (issue 5), a 503 with Retry-After is honoured like a 429, the circuit
 * breaker isolates a dead target, and old jobs fail for good.
 */

let redis: TestRedis;
const harnesses: ConnectionHarness[] = [];

beforeAll(() => {
  redis = createTestRedis('gate');
});

afterAll(async () => {
  await Promise.allSettled(harnesses.map((h) => h.close()));
  await redis?.cleanup();
});

async function connection(...args: Parameters<typeof startConnection> extends [unknown, ...infer Rest] ? Rest : never) {
  const harness = await startConnection(redis, ...args);
  harnesses.push(harness);
  return harness;
}

describe('a 429 pauses the calls of jobs already running', () => {
  it('makes no call while the pause is in force, across the worker concurrency, then delivers everything', async () => {
    const held: Array<() => void> = [];
    const violations: string[] = [];
    let memberCalls = 0;
    let rateLimited = false;
    // The harness keeps a connection's store and gate under `<test prefix>:<connection id>`.
    const pauseKey = () => `${redis.prefix}:pause:gate:pause`;

    const handler = (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      if (req.method === 'POST') return healthy(req, res);
      memberCalls += 1;
      void (async () => {
        // Any call reaching the target while the pause key lives was made through a closed gate.
        if (rateLimited && (await redis.redis.pttl(pauseKey())) > 0) violations.push(req.url ?? '');
        if (!rateLimited && held.length < 3) {
          held.push(() => res.writeHead(204).end());
          return;
        }
        if (!rateLimited) {
          rateLimited = true;
          res.writeHead(429, { 'retry-after': '1' }).end();
          return;
        }
        res.writeHead(204).end();
      })();
    };
    const harness = await connection('pause', handler, { concurrency: 4 });
    expect(pauseKey()).toBe(`${harness.storePrefix}:gate:pause`);
    const groups = await Promise.all([0, 1, 2, 3].map((g) => harness.group(`g${g}`, [0, 1, 2, 3, 4].map((m) => `g${g}-m${m}`))));

    // Four jobs in flight: three calls held by the target, the fourth answered 429.
    await waitFor(async () => rateLimited && held.length === 3, 'three held calls and a 429');
    await waitFor(async () => ((await redis.redis.pttl(pauseKey())) > 0 ? true : undefined), 'the pause to be recorded');
    const callsBefore = memberCalls;
    for (const release of held) release();

    for (const group of groups) {
      const job = await harness.finished(deliveryJobId(group));
      expect(await job.getState(), job.failedReason).toBe('completed');
    }
    expect(violations).toEqual([]);
    expect(memberCalls).toBeGreaterThan(callsBefore);
    for (let g = 0; g < 4; g++) expect((await harness.store.getDeliveredMembers(`g${g}`)).size).toBe(5);
  });
});

describe('Retry-After on a 503', () => {
  it('pauses the connection like a 429 and does not use up an attempt', async () => {
    let answered503 = false;
    const harness = await connection('unavailable', (req, res) => {
      if (!answered503) {
        answered503 = true;
        req.resume();
        res.writeHead(503, { 'retry-after': '1' }).end('down for maintenance');
        return;
      }
      healthy(req, res);
    });
    const data = await harness.user('u503');
    await waitFor(async () => ((await harness.producer.queue.getRateLimitTtl()) > 0 ? true : undefined), 'the queue to pause');
    const job = await harness.finished(deliveryJobId(data));
    expect(await job.getState()).toBe('completed');
    // The same count as a first-time success: the 503 cost no attempt.
    expect(job.attemptsMade).toBe(1);
  });
});

describe('maximum job age', () => {
  it('fails a job for good once it is older than delivery.maxAgeMs, with that reason', async () => {
    const harness = await connection(
      'aged',
      (req, res) => {
        req.resume();
        res.writeHead(500).end('broken');
      },
      { maxAgeMs: 1_000, backoffMs: 1_500, maxBackoffMs: 1_500, attempts: 10, breaker: { enabled: false } },
    );
    const data = await harness.user('old');
    const job = await harness.finished(deliveryJobId(data));
    expect(await job.getState()).toBe('failed');
    expect(job.failedReason).toMatch(/^GW_DELIVERY_EXPIRED the job is \d+ s old, past delivery.maxAgeMs \(1000 ms\)/);
    expect(job.attemptsMade).toBeLessThan(10);
  });
});

describe('circuit breaker and isolation', () => {
  it('a dead target on connection A does not hold back connection B; A resumes through a probe', async () => {
    let aAlive = false;
    let aCalls = 0;
    const a = await connection(
      'dead-a',
      (req, res) => {
        aCalls += 1;
        if (aAlive) return healthy(req, res);
        // Dead: accept the connection and never answer (the worst case: every call times out).
        req.resume();
      },
      { concurrency: 4, attempts: 50, backoffMs: 50, maxBackoffMs: 100, breaker: { consecutiveFailures: 3, cooldownMs: 500, maxCooldownMs: 1_000 } },
      { timeoutMs: 300 },
    );
    const b = await connection('live-b', healthy, { concurrency: 4 });

    const aJobs = await Promise.all(Array.from({ length: 20 }, (_, i) => a.user(`a${i}`)));
    await waitFor(async () => ((await redis.redis.hget(`${a.storePrefix}:gate:breaker`, 'state')) === 'open' ? true : undefined), "A's breaker to open");
    const bJobs = await Promise.all(Array.from({ length: 40 }, (_, i) => b.user(`b${i}`)));

    // B converges completely while A is still dead.
    for (const data of bJobs) expect(await (await b.finished(deliveryJobId(data))).getState()).toBe('completed');
    expect(aAlive).toBe(false);
    const aDelivered = await Promise.all(aJobs.map((d) => a.store.getDeliveryState('User', d.id)));
    expect(aDelivered.filter((s) => s?.targetId)).toEqual([]);
    // The open breaker keeps A's calls few (probes only), and no A job failed for good.
    const callsWhileOpen = aCalls;
    expect(await a.producer.queue.getFailedCount()).toBe(0);

    aAlive = true;
    for (const data of aJobs) expect(await (await a.finished(deliveryJobId(data))).getState()).toBe('completed');
    expect(await redis.redis.hget(`${a.storePrefix}:gate:breaker`, 'state')).toBe('closed');
    expect(callsWhileOpen).toBeLessThan(20 * 50);
  });
});
