import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timelineKey } from '../../src/ops/timeline.js';
import { storePrefix } from '../../src/runtime.js';
import { userBody } from '../api/support.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

/**
 * The admin API against a real bridge, a real target that rejects a user, and real Redis: find
 * why a user is missing from its userName alone, fix the target, replay, and see the result.
 */

const PASSWORD = 'admin-api-pass';
const auth = { authorization: `Basic ${Buffer.from(`ops:${PASSWORD}`).toString('base64')}` };
const GIVEN_NAME_V2 = 'Augusta';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are asserted field by field
type Json = any;

describe('admin API', () => {
  let fx: BridgeFixture;
  let redis: Redis;
  const userName = `ada.${randomBytes(3).toString('hex')}@example.com`;

  const api = async (method: string, path: string, headers: Record<string, string> = auth): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${fx.bridge.url}/admin/api${path}`, { method, headers });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const failedJobs = async () => (await api('GET', '/connections/acme/jobs?state=failed')).body as { total: number; jobs: Json[] };

  beforeAll(async () => {
    fx = await startBridgeFixture('adminapi', {
      connection: { displayName: 'Acme legacy', delivery: { attempts: 3, backoffMs: 20, maxBackoffMs: 50, failedRetention: { maxAgeHours: 24, maxCount: 3 } } },
      config: { admin: { username: 'ops', password: PASSWORD, allow: { retry: true, clean: true } }, timeline: { maxEntries: 6, maxAgeHours: 1 } },
    });
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await redis?.quit();
    await fx?.close();
  });

  it('refuses anonymous callers', async () => {
    const res = await api('GET', '/connections', {});
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ status: 401, error: 'unauthorized', detail: 'admin credentials required' });
  });

  it('shows a rejected user as a failed job with its reason as data, and its timeline by userName', async () => {
    // The target refuses the next two account creations.
    expect((await fx.legacy.send('POST', '/_faults', { status: 422, times: 2, match: 'POST /api/v1/accounts' })).status).toBe(204);
    const created = await fx.scim('POST', '/Users', userBody(userName, { name: { givenName: 'Ada', familyName: 'Lovelace' } }), { 'x-request-id': 'req-create-1' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    const failed = await eventually(async () => ((await failedJobs()).total === 1 ? failedJobs() : undefined));
    const job = failed!.jobs[0];
    expect(job).toMatchObject({
      id: `User-${id}-r1`,
      connection: 'acme',
      title: `User ${userName} · r1`,
      state: 'failed',
      resource: { type: 'User', id, name: userName },
      revision: 1,
      requestId: 'req-create-1',
      attempts: 1,
      superseded: false,
      failure: { code: 'GW_DELIVERY_REJECTED', status: 422, action: 'create', method: 'POST', path: '/api/v1/accounts', attempts: 1 },
    });
    expect(job.failure.answer).toContain('injected_fault');
    expect(Date.parse(job.failure.firstAttemptAt)).not.toBeNaN();
    expect(job.failure.lastAttemptAt).toBe(job.failure.firstAttemptAt);

    const connections = await api('GET', '/connections');
    expect(connections.body.connections).toEqual([
      expect.objectContaining({
        id: 'acme',
        displayName: 'Acme legacy',
        queue: expect.objectContaining({ paused: false, counts: expect.objectContaining({ failed: 1 }) }),
        gate: { breaker: 'closed' },
        lastFailure: expect.objectContaining({ code: 'GW_DELIVERY_REJECTED', status: 422, jobId: job.id }),
      }),
    ]);

    // A later change fails too (the target still refuses): two open failures.
    const patched = await fx.scim('PATCH', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'name.givenName', value: GIVEN_NAME_V2 }],
    });
    expect(patched.status).toBe(200);
    await eventually(async () => (await failedJobs()).total === 2);

    const trace = await api('GET', `/connections/acme/trace?q=${encodeURIComponent(userName)}`);
    expect(trace.status).toBe(200);
    expect(trace.body.resource).toEqual({ type: 'User', id, name: userName, exists: true, revision: 2 });
    const events = trace.body.events as Json[];
    expect(events.map((e) => [e.kind, e.op ?? e.outcome])).toEqual([
      ['scim', 'create'],
      ['delivery', 'failed'],
      ['scim', 'patch'],
      ['delivery', 'failed'],
    ]);
    expect(events[0]).toMatchObject({ requestId: 'req-create-1', revision: 1 });
    expect(events[0].attributes).toEqual(expect.arrayContaining(['userName', 'name.givenName', 'emails', 'active']));
    expect(events[2].attributes).toEqual(['name.givenName']);
    expect(events[1]).toMatchObject({ jobId: job.id, attempt: 1, code: 'GW_DELIVERY_REJECTED' });
    expect(events[1].calls.map((c: Json) => [c.action, c.method, c.path, c.status, c.outcome])).toEqual([
      ['lookup', 'GET', '/api/v1/accounts?…', 200, 'ok'],
      ['create', 'POST', '/api/v1/accounts', 422, 'reject'],
    ]);
    // Names of attributes, never their values.
    expect(JSON.stringify(trace.body)).not.toContain(GIVEN_NAME_V2);
    expect(JSON.stringify(trace.body)).not.toContain('Lovelace');
    expect(trace.body.jobs.map((j: Json) => j.state)).toEqual(['failed', 'failed']);

    // The same story by SCIM id.
    expect((await api('GET', `/connections/acme/trace?q=${id}`)).body.resource.id).toBe(id);
  });

  it('retries the first failed job, which delivers the latest state; the newer failure becomes superseded', async () => {
    const { jobs } = await failedJobs();
    const first = jobs.find((j) => j.revision === 1);
    const retried = await api('POST', `/connections/acme/jobs/${first.id}/retry`);
    expect(retried.status).toBe(200);

    const account = await eventually(async () => {
      const list = (await fx.legacy.get('/api/v1/accounts')) as { data: Array<{ login: string; first_name: string }> };
      return list.data.find((a) => a.login === userName);
    });
    expect(account?.first_name).toBe(GIVEN_NAME_V2);

    const after = await eventually(async () => {
      const open = await failedJobs();
      return open.total === 1 && open.jobs[0].superseded ? open : undefined;
    });
    expect(after!.jobs[0]).toMatchObject({ revision: 2, superseded: true, deliveredRevision: 2 });
    const done = await api('GET', `/connections/acme/jobs/${first.id}`);
    expect(done.body).toMatchObject({ state: 'completed', superseded: true });
    expect(done.body.failure).toBeUndefined();

    const trace = await api('GET', `/connections/acme/trace?q=${encodeURIComponent(userName)}`);
    expect(trace.body.delivery).toMatchObject({ deliveredRevision: 2, targetId: expect.any(String) });
    expect(trace.body.events.at(-1)).toMatchObject({ kind: 'delivery', outcome: 'delivered', result: 'converged', jobId: first.id, attempt: 2 });

    // The last success is written at most once a second per process, the latest one last.
    const status = await eventually(async () => {
      const current = await api('GET', '/connections/acme');
      return current.body.lastSuccess?.jobId === first.id ? current : undefined;
    });
    expect(status!.body.lastSuccess).toMatchObject({ jobId: first.id });

    // The superseded failure is discarded; unknown jobs and connections are 404.
    expect((await api('DELETE', `/connections/acme/jobs/${after!.jobs[0].id}`)).status).toBe(204);
    expect((await failedJobs()).total).toBe(0);
    expect((await api('GET', '/connections/acme/jobs/nope')).body).toMatchObject({ status: 404, error: 'not_found' });
    expect((await api('GET', '/connections/nope')).status).toBe(404);
    expect((await api('GET', '/connections/acme/jobs?state=bogus')).status).toBe(400);
    expect((await api('GET', '/connections/acme/trace?q=nobody@example.com')).status).toBe(404);
  });

  it('keeps failed jobs by the retention rule and retries all of a connection', async () => {
    expect((await fx.legacy.send('POST', '/_faults', { status: 400, times: 4, match: 'POST /api/v1/accounts' })).status).toBe(204);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await fx.scim('POST', '/Users', userBody(`bulk${i}.${randomBytes(2).toString('hex')}@example.com`));
      expect(created.status).toBe(201);
      ids.push(created.body.id as string);
    }
    const failedForGood = async (id: string) =>
      ((await api('GET', `/connections/acme/jobs/User-${id}-r1`)).body as Json).state === 'failed' ||
      ((await api('GET', `/connections/acme/trace?q=${id}`)).body.events as Json[]).some((e) => e.outcome === 'failed');
    for (const id of ids) expect(await eventually(() => failedForGood(id))).toBe(true);
    // maxCount 3: the oldest failure was dropped when the fourth one failed.
    expect((await failedJobs()).total).toBe(3);
    const all = await api('POST', '/connections/acme/jobs/retry');
    expect(all.body).toEqual({ retried: 3 });
    expect(await eventually(async () => (await failedJobs()).total === 0)).toBe(true);
  });

  it('carries a Bulk request\'s id into the timeline of every resource it wrote', async () => {
    const bulkUser = `bulk.${randomBytes(3).toString('hex')}@example.com`;
    const res = await fx.scim(
      'POST',
      '/Bulk',
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
        Operations: [{ method: 'POST', path: '/Users', bulkId: 'u1', data: userBody(bulkUser) }],
      },
      { 'x-request-id': 'req-bulk-1' },
    );
    expect(res.status).toBe(200);
    const trace = await api('GET', `/connections/acme/trace?q=${encodeURIComponent(bulkUser)}`);
    expect(trace.body.events[0]).toMatchObject({ kind: 'scim', op: 'create', requestId: 'req-bulk-1' });
  });

  it('records a DELETE once, with its request id and the revision its write assigned', async () => {
    const created = await fx.scim('POST', '/Users', userBody(`del.${randomBytes(3).toString('hex')}@example.com`));
    const id = created.body.id as string;
    expect((await fx.scim('DELETE', `/Users/${id}`, undefined, { 'x-request-id': 'req-delete-1' })).status).toBe(204);
    const trace = await api('GET', `/connections/acme/trace?q=${id}`);
    const scimEvents = (trace.body.events as Json[]).filter((e) => e.kind === 'scim');
    expect(scimEvents.map((e) => [e.op, e.revision])).toEqual([
      ['create', 1],
      ['delete', 2],
    ]);
    expect(scimEvents[1]).toMatchObject({ requestId: 'req-delete-1', attributes: [] });
  });

  it('records a member PATCH once, with the revision its write assigned', async () => {
    const member = (await fx.scim('POST', '/Users', userBody(`mem.${randomBytes(3).toString('hex')}@example.com`))).body.id as string;
    const group = (await fx.scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `grp-${randomBytes(3).toString('hex')}` })).body.id as string;
    const patch = (op: string) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op, path: 'members', value: [{ value: member }] }] });
    expect((await fx.scim('PATCH', `/Groups/${group}`, patch('Add'), { 'x-request-id': 'req-member-1' })).status).toBeLessThan(300);
    expect((await fx.scim('PATCH', `/Groups/${group}`, patch('Remove'))).status).toBeLessThan(300);
    const trace = await api('GET', `/connections/acme/trace?q=${group}`);
    const scimEvents = (trace.body.events as Json[]).filter((e) => e.kind === 'scim');
    expect(scimEvents.map((e) => [e.op, e.revision, e.attributes])).toEqual([
      ['create', 1, expect.any(Array)],
      ['patch', 2, ['members']],
      ['patch', 3, ['members']],
    ]);
    expect(scimEvents[1]).toMatchObject({ requestId: 'req-member-1' });
  });

  it('bounds each timeline by count and age', async () => {
    const created = await fx.scim('POST', '/Users', userBody(`tl.${randomBytes(3).toString('hex')}@example.com`));
    const id = created.body.id as string;
    for (let i = 0; i < 8; i++) {
      await fx.scim('PATCH', `/Users/${id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: `v${i}` }],
      });
    }
    const key = timelineKey(storePrefix(fx.config, 'acme'), 'User', id);
    await eventually(async () => (await api('GET', `/connections/acme/trace?q=${id}`)).body.events.at(-1)?.kind === 'delivery');
    expect(await redis.llen(key)).toBeLessThanOrEqual(6);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
  });
});
