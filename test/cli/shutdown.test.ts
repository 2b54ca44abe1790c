import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deliveryJobId, type DeliveryJobData } from '../../src/delivery/types.js';
import { SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { createProcessFixture, type ProcessFixture } from '../helpers/process-fixture.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { killAllCli } from './spawn-cli.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Graceful shutdown and stalled jobs with real `scim-bridge worker` processes: SIGTERM stops
 * taking jobs and lets running calls finish; past `shutdown.graceMs` the rest goes back to the
 * queue; a second signal exits at once; a SIGKILLed worker's jobs are taken over by another.
 */

const TIMEOUT = 90_000;
const MAPPING = `version: 1
users:
  fields:
    login: userName
  create:
    method: POST
    path: /accounts
    targetId: id
`;

let target: TestServer | undefined;
let fixture: ProcessFixture | undefined;

afterEach(async () => {
  await killAllCli();
  await fixture?.close();
  await target?.close();
  fixture = undefined;
  target = undefined;
});

afterAll(async () => {
  await killAllCli();
});

/** A target whose answers the test releases; `hold: false` answers at once. */
async function startTarget() {
  const held: Array<() => void> = [];
  const state = { hold: true, received: 0, answered: 0, accounts: 0 };
  const server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    state.received += 1;
    const answer = () => {
      if (res.destroyed) return;
      state.answered += 1;
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `acc-${++state.accounts}` }));
    };
    if (state.hold) held.push(answer);
    else answer();
  });
  return {
    server,
    state,
    release() {
      state.hold = false;
      for (const answer of held.splice(0)) answer();
    },
    held: () => held.length,
  };
}

async function seed(f: ProcessFixture, count: number): Promise<DeliveryJobData[]> {
  const jobs: DeliveryJobData[] = [];
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const id = `u${i}`;
    const doc = { id, schemas: [SCHEMA_USER], userName: `${id}@example.com`, meta: { resourceType: 'User', created: now, lastModified: now } };
    const stored = await f.store.create('User', doc as ScimResource);
    jobs.push({ connectionId: f.connectionId, type: 'User', id, revision: stored.revision });
  }
  await f.queue.enqueueMany(jobs);
  await f.store.outboxAck(jobs);
  return jobs;
}


const counts = (f: ProcessFixture) => f.queue.queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed');

describe('graceful shutdown of a worker process', () => {
  it(
    'on SIGTERM finishes the calls in flight, takes no new job and exits 0',
    async () => {
      const t = await startTarget();
      target = t.server;
      fixture = await createProcessFixture('shutdown-finish', {
        redisUrl: TEST_REDIS_URL,
        targetUrl: t.server.url,
        mapping: MAPPING,
        delivery: { concurrency: 2 },
        shutdownGraceMs: 30_000,
      });
      await seed(fixture, 8);
      const worker = fixture.spawn('worker');
      await waitFor(() => t.held() === 2, 'two calls in flight');

      worker.child.kill('SIGTERM');
      // Released once the worker is shutting down: it must still be there to take the answers.
      await worker.waitForLine(/^scim-bridge shutting down/);
      t.release();
      expect(await worker.exit(), worker.stderr()).toEqual({ code: 0, signal: null });

      const after = await counts(fixture);
      expect(after).toMatchObject({ active: 0, completed: 2, failed: 0 });
      expect((after.waiting ?? 0) + (after.prioritized ?? 0) + (after.delayed ?? 0)).toBe(6);
      expect(t.state.received).toBe(2);
    },
    TIMEOUT,
  );

  it(
    'hands the jobs still running after the grace period back to the queue, and another worker delivers them',
    async () => {
      const t = await startTarget();
      target = t.server;
      fixture = await createProcessFixture('shutdown-grace', {
        redisUrl: TEST_REDIS_URL,
        targetUrl: t.server.url,
        mapping: MAPPING,
        delivery: { concurrency: 3 },
        target: { timeoutMs: 60_000 },
        shutdownGraceMs: 500,
      });
      const jobs = await seed(fixture, 5);
      const worker = fixture.spawn('worker');
      await waitFor(() => t.held() === 3, 'three calls in flight');

      expect(await worker.stop('SIGTERM', 30_000), worker.stderr()).toEqual({ code: 0, signal: null });
      const after = await counts(fixture);
      expect(after).toMatchObject({ active: 0, completed: 0, failed: 0 });
      expect((after.waiting ?? 0) + (after.prioritized ?? 0) + (after.delayed ?? 0)).toBe(5);

      t.release();
      const next = fixture.spawn('worker');
      for (const job of jobs) await waitFor(async () => (await fixture!.queue.queue.getJobState(deliveryJobId(job))) === 'completed', `${job.id} delivered`);
      expect(await next.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    },
    TIMEOUT,
  );

  it(
    'exits at once on a second signal',
    async () => {
      const t = await startTarget();
      target = t.server;
      fixture = await createProcessFixture('shutdown-twice', {
        redisUrl: TEST_REDIS_URL,
        targetUrl: t.server.url,
        mapping: MAPPING,
        delivery: { concurrency: 2 },
        target: { timeoutMs: 60_000 },
        shutdownGraceMs: 600_000,
      });
      await seed(fixture, 2);
      const worker = fixture.spawn('worker');
      await waitFor(() => t.held() === 2, 'two calls in flight');
      worker.child.kill('SIGTERM');
      // The second signal only once the first has started the shutdown.
      await worker.waitForLine(/^scim-bridge shutting down/);
      // Bounded "must not hang" check: far below the 10-minute grace period.
      expect(await worker.stop('SIGTERM', 20_000)).toEqual({ code: 128 + 15, signal: null });
    },
    TIMEOUT,
  );
});

describe('stalled jobs', () => {
  it(
    "a SIGKILLed worker's running jobs are taken over by another worker once their locks expire",
    async () => {
      const t = await startTarget();
      target = t.server;
      fixture = await createProcessFixture('stalled', {
        redisUrl: TEST_REDIS_URL,
        targetUrl: t.server.url,
        mapping: MAPPING,
        delivery: { concurrency: 4, lockDurationMs: 2_000, stalledIntervalMs: 1_000 },
        target: { timeoutMs: 5_000 },
      });
      const jobs = await seed(fixture, 4);
      const doomed = fixture.spawn('worker');
      await waitFor(() => t.held() === 4, 'four calls in flight');
      doomed.child.kill('SIGKILL');
      await doomed.exited;
      t.release();

      const rescuer = fixture.spawn('worker');
      // Bound: lockDurationMs + stalledIntervalMs to take the job over, timeoutMs + lockDurationMs
      // for the dead worker's resource lease: 10 s here, plus a generous margin for a busy box.
      for (const job of jobs) await waitFor(async () => (await fixture!.queue.queue.getJobState(deliveryJobId(job))) === 'completed', `${job.id} delivered`, 45_000);
      expect(await counts(fixture)).toMatchObject({ active: 0, failed: 0, completed: 4 });
      expect(await rescuer.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    },
    TIMEOUT,
  );
});
