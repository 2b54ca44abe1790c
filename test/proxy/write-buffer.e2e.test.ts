import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { eventually } from '../helpers/bridge.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { startStrictScimServer, type StrictScimServer } from './strict-scim-server.js';

/**
 * Write buffering of `mode: proxy` connections against a strict SCIM upstream that goes down:
 * PUT/PATCH/DELETE are answered 202 once they are in Redis, later writes queue behind them, a
 * POST is not buffered, reads still go upstream. The bridge that accepted them stops (as in a
 * crash or restart) before anything is replayed; a new bridge replays them one by one, in order,
 * waiting while the upstream still fails, and the upstream ends exactly as Entra asked. A write
 * the upstream rejects (4xx) is a visible failed job and does not hold up the others.
 */

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PASSWORD = 'write-buffer-pass';
const admin = { authorization: `Basic ${Buffer.from(`ops:${PASSWORD}`).toString('base64')}` };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field
type Json = any;
type Answer = { status: number; body: Json; headers: Headers };

let upstream: StrictScimServer;
let config: BridgeConfig;
let bridge: RunningBridge;
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-proxybuf-${randomBytes(4).toString('hex')}`;

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
const via = (connection: string) => (method: string, path: string, body?: unknown) =>
  call(`${bridge.url}/${connection}/scim/v2${path}`, method, { authorization: `Bearer ${secret}` }, body);
const api = (path: string) => call(`${bridge.url}${path}`, 'GET', admin);
const patch = (...operations: unknown[]) => ({ schemas: [PATCH_OP], Operations: operations });
const buffer = (connection: string) => bridge.runtime.proxy(connection).buffer!;
const drained = (connection: string) => eventually(async () => (await buffer(connection).pending()) === 0, { timeoutMs: 20_000 });

beforeAll(async () => {
  upstream = await startStrictScimServer();
  const oauth = { type: 'oauth2', tokenUrl: upstream.tokenUrl, clientId: upstream.clientId, clientSecret: upstream.clientSecret };
  const proxied = (id: string, proxy: Record<string, unknown>) => ({
    id,
    mode: 'proxy',
    auth: { bearer: [secret] },
    target: { baseUrl: upstream.baseUrl, auth: oauth, timeoutMs: 3_000 },
    proxy,
  });
  const buffered = { writes: true, backoffMs: 20, maxBackoffMs: 100 };
  config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    admin: { username: 'ops', password: PASSWORD },
    connections: [
      proxied('acme', { buffer: buffered, breaker: { failures: 1_000, openMs: 100 } }),
      proxied('brk', { buffer: buffered, breaker: { failures: 1, openMs: 600_000 } }),
      proxied('full', { buffer: { ...buffered, maxQueued: 1 }, breaker: { failures: 1_000, openMs: 100 } }),
      proxied('plain', { breaker: { failures: 1_000, openMs: 100 } }),
    ],
  });
  // The API only: nothing is replayed until the second bridge below.
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
});

afterAll(async () => {
  await bridge?.close();
  await upstream?.close();
  await dropPrefix(prefix);
});

describe('write buffering of a mode: proxy connection', () => {
  it('accepts writes while the upstream fails, keeps them across a restart, and replays them in order', async () => {
    const scim = via('acme');
    const user = async (userName: string) => {
      const created = await scim('POST', '/Users', { schemas: [USER], userName, active: 'True', name: { givenName: 'G', familyName: 'F' } });
      expect(created.status).toBe(201);
      return created.body.id as string;
    };
    const [ada, bob, cy] = [await user('ada@example.com'), await user('bob@example.com'), await user('cy@example.com')];
    const group = await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'Engineers' });
    expect(group.status).toBe(201);
    const gid = group.body.id as string;
    const start = upstream.applied().length;

    upstream.failWith(503);
    const accepted = [
      await scim('PATCH', `/Users/${ada}`, patch({ op: 'Replace', path: 'name.familyName', value: 'King' })),
      await scim('PATCH', `/Users/${ada}`, patch({ op: 'Replace', path: 'name.familyName', value: 'Byron' })),
      await scim('PATCH', `/Groups/${gid}`, patch({ op: 'Add', path: 'members', value: [{ value: bob }] })),
      await scim('PATCH', '/Users/nobody', patch({ op: 'Replace', path: 'active', value: 'False' })),
      await scim('DELETE', `/Users/${cy}`),
      await scim('PATCH', `/Users/${ada}`, patch({ op: 'Replace', path: 'active', value: 'False' })),
    ];
    for (const answer of accepted) {
      expect(answer.status).toBe(202);
      expect(answer.body).toBeUndefined();
      expect(answer.headers.get('x-scim-bridge-buffered')).toMatch(/^\d+$/);
      // The upstream's failure headers are not part of the answer.
      expect(answer.headers.get('retry-after')).toBeNull();
    }
    // A POST has no id to buffer under: the upstream's 503 passes, Entra retries it.
    expect((await scim('POST', '/Users', { schemas: [USER], userName: 'dee@example.com' })).status).toBe(503);
    // Reads still go to the upstream.
    expect((await scim('GET', `/Users/${ada}`)).status).toBe(503);

    upstream.up();
    // The upstream is back, but earlier writes wait: this one queues behind them.
    const behind = await scim('PATCH', `/Users/${ada}`, patch({ op: 'replace', path: 'title', value: 'Countess' }));
    expect(behind.status).toBe(202);
    expect(await buffer('acme').pending()).toBe(7);
    // The queue metrics count a proxy connection's buffer as its queue.
    expect(await bridge.runtime.metrics.render()).toContain('scim_bridge_queue_jobs{connection="acme",state="waiting"} 7');
    // Reads see the upstream as it is: stale until the buffer is replayed.
    expect((await scim('GET', `/Users/${ada}`)).body.name.familyName).toBe('F');
    expect(upstream.applied().length).toBe(start);

    // Restart: the accepting bridge goes away; the writes are only in Redis now.
    await bridge.close();
    upstream.failWith(503);
    bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false });
    // The first replay fails and is retried; nothing overtakes it meanwhile.
    const retried = await eventually(async () => {
      const trace = await api(`/admin/api/connections/acme/trace?q=${ada}`);
      return trace.status === 200 && (trace.body.events as Json[]).some((e) => e.outcome === 'replay-retry');
    });
    expect(retried).toBe(true);
    expect(upstream.applied().length).toBe(start);
    upstream.up();
    expect(await drained('acme')).toBe(true);

    expect(upstream.applied().slice(start)).toEqual([
      `PATCH /Users/${ada}`,
      `PATCH /Users/${ada}`,
      `PATCH /Groups/${gid}`,
      `DELETE /Users/${cy}`,
      `PATCH /Users/${ada}`,
      `PATCH /Users/${ada}`,
    ]);
    const users = Object.fromEntries(upstream.users().map((u) => [u.id, u]));
    expect(users[ada]).toMatchObject({ name: { givenName: 'G', familyName: 'Byron' }, active: false, title: 'Countess' });
    expect(users[cy]).toBeUndefined();
    expect(users[bob]).toMatchObject({ active: true });
    expect(upstream.groups().map((g) => (g.members as Array<{ value: string }>).map((m) => m.value))).toEqual([[bob]]);

    // The write the upstream refused is a failed job, with the upstream's status, and only that one.
    const failed = await buffer('acme').queue.getFailed();
    expect(failed.map((job) => job.failedReason)).toEqual([expect.stringMatching(/^GW_PROXY_REPLAY_REJECTED the upstream answered 404 to the buffered PATCH \/Users\/nobody/)]);

    // The timeline tells the story: accepted into the buffer, then replayed in order.
    const trace = await api(`/admin/api/connections/acme/trace?q=${ada}`);
    const events = (trace.body.events as Json[]).filter((e) => e.outcome !== 'replay-retry');
    expect(events.map((e) => [e.op, e.outcome, e.status, e.upstreamStatus])).toEqual([
      ['create', 'forwarded', 201, 201],
      ['patch', 'buffered', 202, 503],
      ['patch', 'buffered', 202, undefined],
      ['patch', 'buffered', 202, undefined],
      ['patch', 'buffered', 202, undefined],
      ['patch', 'replayed', undefined, 200],
      ['patch', 'replayed', undefined, 200],
      ['patch', 'replayed', undefined, 200],
      ['patch', 'replayed', undefined, 200],
    ]);
    const jobIds = events.filter((e) => e.outcome === 'buffered').map((e) => e.jobId);
    expect(events.filter((e) => e.outcome === 'replayed').map((e) => e.jobId)).toEqual(jobIds);
    expect(JSON.stringify(trace.body)).not.toContain('Byron');

    // `status` (admin API and CLI) counts the buffer as the connection's queue.
    const status = await api('/admin/api/connections/acme');
    expect(status.body).toMatchObject({ id: 'acme', mode: 'proxy', queue: { counts: { waiting: 0, active: 0, failed: 1 } } });
    expect(((await api('/admin/api/connections')).body.connections as Json[]).map((c) => c.id)).toEqual(['acme', 'brk', 'full']);

    // The dashboard lists the buffer as a queue of its own, without the bodies.
    const board = await api('/admin/queues/api/queues?activeQueue=proxy-buffer-acme&status=failed');
    expect(board.status).toBe(200);
    const queue = (board.body.queues as Json[]).find((q) => q.name === 'proxy-buffer-acme');
    expect(queue).toMatchObject({ displayName: 'acme · write buffer' });
    expect(JSON.stringify(board.body)).not.toContain('"False"');
    expect(JSON.stringify(queue.jobs)).toContain('PATCH User nobody (buffered)');
  });

  it('buffers when the upstream cannot be reached or the circuit is open; without buffering or when full, the failure stands', async () => {
    const created = await via('brk')('POST', '/Users', { schemas: [USER], userName: 'eve@example.com' });
    expect(created.status).toBe(201);
    const eve = created.body.id as string;
    // acme's token is fetched now, so its write below reaches the (dead) upstream itself.
    expect((await via('acme')('GET', `/Users/${eve}`)).status).toBe(200);
    upstream.down();
    try {
      // Unreachable: the forward fails, the write is buffered.
      const unreachable = await via('acme')('PATCH', `/Users/${eve}`, patch({ op: 'replace', path: 'title', value: 'Spy' }));
      expect(unreachable.status).toBe(202);
      // Open circuit: not even tried, buffered.
      expect((await via('brk')('GET', `/Users/${eve}`)).status).toBe(502);
      const open = await via('brk')('PATCH', `/Users/${eve}`, patch({ op: 'replace', path: 'displayName', value: 'Eve' }));
      expect(open.status).toBe(202);
      // No buffer: the SCIM error as before.
      expect((await via('plain')('PATCH', `/Users/${eve}`, patch({ op: 'replace', path: 'nickName', value: 'E' }))).status).toBe(502);
      // Full buffer: the failure, not a 202.
      expect((await via('full')('PATCH', `/Users/${eve}`, patch({ op: 'replace', path: 'userType', value: 'Guest' }))).status).toBe(202);
      const full = await via('full')('PATCH', `/Users/${eve}`, patch({ op: 'replace', path: 'locale', value: 'fr' }));
      expect(full.status).toBe(503);
      expect(full.body.detail).toMatch(/buffer is full/);
      expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      upstream.up();
    }
    expect(await drained('acme')).toBe(true);
    expect(await drained('brk')).toBe(true);
    expect(await drained('full')).toBe(true);
    expect(upstream.users().find((u) => u.id === eve)).toMatchObject({ title: 'Spy', displayName: 'Eve', userType: 'Guest' });
    expect(upstream.users().find((u) => u.id === eve)?.locale).toBeUndefined();
    const trace = await api(`/admin/api/connections/brk/trace?q=${eve}`);
    // Replays tried while the upstream was still down are `replay-retry` events in between.
    const events = (trace.body.events as Json[]).filter((e) => e.outcome !== 'replay-retry');
    expect(events.map((e) => [e.outcome, e.code])).toEqual([
      ['forwarded', undefined],
      ['buffered', 'GW_PROXY_UNAVAILABLE'],
      ['replayed', undefined],
    ]);
    const acme = await api(`/admin/api/connections/acme/trace?q=${eve}`);
    expect((acme.body.events as Json[]).find((e) => e.outcome === 'buffered')).toMatchObject({ code: 'GW_PROXY_UNREACHABLE', status: 202 });
  });

  it('fails a buffered write for good once it is older than maxAgeMs', async () => {
    const old = Date.now() - 2 * 24 * 60 * 60_000;
    const write = { connectionId: 'acme', type: 'User' as const, id: 'old', op: 'delete' as const, method: 'DELETE' as const, path: '/Users/old', requestId: 'r-old', attributes: [], rewrites: [], acceptedAt: new Date(old).toISOString() };
    const job = await buffer('acme').queue.add('user.delete', write, { timestamp: old });
    expect(await eventually(async () => (await job.getState()) === 'failed')).toBe(true);
    expect((await buffer('acme').queue.getJob(job.id!))?.failedReason).toMatch(/^GW_PROXY_BUFFER_EXPIRED /);
    expect(upstream.applied()).not.toContain('DELETE /Users/old');
  });
});
