import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { captureIo } from '../cli/capture-io.js';
import { eventually } from '../helpers/bridge.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';

/**
 * The write buffer of a `mode: proxy` connection through the ops front ends: `GET
 * /admin/api/connections/<id>/jobs` and `scim-bridge jobs list|show|retry|discard` list and act
 * on its buffered writes (attribute names only, never a body value), `/readyz` reports the
 * buffer and its replay worker, and a failed write that a later write of the same resource has
 * overtaken is not retried (it would undo that write). A real bridge, real Redis, and a loopback
 * upstream whose answer per resource the test sets.
 */

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SECRET_VALUES = ['Secret-Title-123', 'Nick-Secret-456', 'Dept-Secret-789'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are asserted field by field
type Json = any;

let upstream: TestServer;
let dir: string;
let configFile: string;
let config: BridgeConfig;
let bridge: RunningBridge;
/** The upstream's status per `METHOD /path`; every other request: `fallback`. */
const answers = new Map<string, number>();
let fallback = 503;
const received: Array<{ call: string; body: string }> = [];
const secret = randomBytes(16).toString('hex');
const password = randomBytes(12).toString('hex');
const prefix = `sbtest-bufjobs-${randomBytes(4).toString('hex')}`;
const admin = { authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}` };

beforeAll(async () => {
  upstream = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const call = `${req.method} ${req.url?.replace('/scim/v2', '')}`;
      received.push({ call, body: Buffer.concat(chunks).toString('utf8') });
      const status = answers.get(call) ?? fallback;
      if (status >= 400) {
        res.writeHead(status, { 'content-type': 'application/scim+json' });
        res.end(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail: 'title is read-only' }));
        return;
      }
      res.writeHead(status, { 'content-type': 'application/scim+json' }).end(JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: req.url?.split('/').at(-1) }));
    });
  });
  dir = mkdtempSync(join(tmpdir(), 'scim-bridge-bufjobs-'));
  writeFileSync(join(dir, 'secret'), secret);
  writeFileSync(join(dir, 'admin'), password);
  configFile = join(dir, 'bridge.yaml');
  const proxied = (id: string, buffer: string) => [
    `  - id: ${id}`,
    '    mode: proxy',
    '    auth: { bearer: ["${file:secret}"] }',
    `    target: { baseUrl: "${upstream.url}/scim/v2", timeoutMs: 3000 }`,
    `    proxy: { breaker: { failures: 1000, openMs: 100 }${buffer} }`,
  ];
  writeFileSync(
    configFile,
    [
      `redis: { url: "${TEST_REDIS_URL}", prefix: ${prefix} }`,
      'logLevel: silent',
      'admin: { username: ops, password: "${file:admin}", allow: { retry: true, clean: true } }',
      'connections:',
      ...proxied('px', ', buffer: { writes: true, backoffMs: 20, maxBackoffMs: 100 }'),
      ...proxied('plainpx', ''),
      '',
    ].join('\n'),
  );
  config = await loadConfig(configFile);
  // The API only: writes stay in the buffer until a bridge with workers starts.
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
});

afterAll(async () => {
  await bridge?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
  await dropPrefix(prefix);
});

async function http(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: Json; text: string }> {
  const res = await fetch(`${bridge.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}
const scim = (method: string, path: string, body?: unknown) => http(method, `/px/scim/v2${path}`, { authorization: `Bearer ${secret}` }, body);
const api = (method: string, path: string) => http(method, `/admin/api${path}`, admin);
const patch = (path: string, value: unknown) => ({ schemas: [PATCH_OP], Operations: [{ op: 'Replace', path, value }] });
const cli = async (...args: string[]) => {
  const { io, out } = captureIo();
  const code = await main([...args, '--config', configFile], io);
  return { code, ...out };
};
const noSecrets = (text: string) => {
  for (const value of SECRET_VALUES) expect(text).not.toContain(value);
};

describe('buffered writes in the admin API, the CLI and /readyz', () => {
  const ids: Record<string, string> = {};

  it('lists and shows waiting buffered writes with attribute names only', async () => {
    for (const [user, body] of [
      ['u1', patch('title', SECRET_VALUES[0])],
      ['u2', patch('nickName', SECRET_VALUES[1])],
      ['u3', patch('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', SECRET_VALUES[2])],
    ] as const) {
      const accepted = await fetch(`${bridge.url}/px/scim/v2/Users/${user}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(body),
      });
      expect(accepted.status).toBe(202);
      ids[user] = accepted.headers.get('x-scim-bridge-buffered')!;
    }

    const page = await api('GET', '/connections/px/jobs?state=waiting');
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(3);
    const byUser = Object.fromEntries((page.body.jobs as Json[]).map((job) => [job.resource.id, job]));
    expect(byUser.u1).toMatchObject({
      kind: 'buffered-write',
      id: ids.u1,
      connection: 'px',
      state: 'waiting',
      title: 'PATCH User u1 (buffered)',
      method: 'PATCH',
      op: 'patch',
      resource: { type: 'User', id: 'u1' },
      attributes: ['title'],
      rewrites: ['lowercaseOps'],
      attempts: 0,
      superseded: false,
    });
    expect(byUser.u3.attributes).toEqual(['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department']);
    noSecrets(page.text);
    expect(page.text).not.toMatch(/"body"|if-?match|content-?type/i);

    const one = await api('GET', `/connections/px/jobs/${ids.u2}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ kind: 'buffered-write', resource: { id: 'u2' }, attributes: ['nickName'] });
    noSecrets(one.text);
    expect((await api('GET', '/connections/px/jobs/999999')).status).toBe(404);

    const table = await cli('jobs', 'list', 'px', '--state', 'waiting');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^JOB +STATE +WRITE +ATTRIBUTES +ATTEMPTS +CODE +UPSTREAM +ACCEPTED +SUPERSEDED/);
    expect(table.stdout).toMatch(new RegExp(`\\n${ids.u1} +waiting +PATCH User u1 +title +0 `));
    noSecrets(table.stdout);
    const shown = await cli('jobs', 'show', 'px', ids.u2!);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('write       PATCH User u2');
    expect(shown.stdout).toContain('attributes  nickName (rewrites lowercaseOps)');
    noSecrets(shown.stdout);

    // Nothing to retry yet: a waiting write is not failed.
    expect((await api('POST', `/connections/px/jobs/${ids.u1}/retry`)).status).toBe(409);
    // A proxy connection without a buffer has no jobs, and says why.
    const plain = await api('GET', '/connections/plainpx/jobs');
    expect(plain.status).toBe(404);
    expect(plain.body.detail).toMatch(/mode: proxy connection without write buffering/);
  });

  it('/readyz reports the buffer as the queue, and no replay worker in an API-only process', async () => {
    const ready = await http('GET', '/readyz', {});
    expect(ready.status).toBe(200);
    expect(ready.body.connections).toEqual([
      { id: 'px', mode: 'proxy', queue: { status: 'ok', paused: false, waiting: 3, failed: 0 }, worker: { status: 'not-in-this-process' } },
    ]);
  });

  it('after the replay: failed writes listed with their failure; an overtaken one is not retried, the others are', async () => {
    // u1 and u3 are refused by the upstream, u2 goes through.
    fallback = 200;
    answers.set('PATCH /Users/u1', 400);
    answers.set('PATCH /Users/u3', 400);
    await bridge.close();
    bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false });
    expect(await eventually(async () => (await bridge.runtime.proxy('px').buffer!.pending()) === 0)).toBe(true);

    const ready = await http('GET', '/readyz', {});
    expect(ready.status).toBe(200);
    expect(ready.body.connections[0]).toMatchObject({ id: 'px', mode: 'proxy', queue: { failed: 2 }, worker: { status: 'ok' } });

    const failed = await api('GET', '/connections/px/jobs');
    expect(failed.body.total).toBe(2);
    const [first, third] = [...(failed.body.jobs as Json[])].sort((a, b) => Number(a.id) - Number(b.id));
    expect(first).toMatchObject({
      id: ids.u1,
      state: 'failed',
      attempts: 1,
      failure: { code: 'GW_PROXY_REPLAY_REJECTED', upstreamStatus: 400, message: expect.stringContaining('title is read-only') },
      superseded: false,
    });
    expect(third).toMatchObject({ id: ids.u3, superseded: false });
    noSecrets(failed.text);

    // Entra writes u3 again, now forwarded directly (the buffer is empty) and applied upstream:
    // the failed older write of u3 is overtaken.
    answers.set('PATCH /Users/u3', 200);
    expect((await scim('PATCH', '/Users/u3', patch('title', 'Engineer'))).status).toBe(200);
    const overtaken = await api('GET', `/connections/px/jobs/${ids.u3}`);
    expect(overtaken.body).toMatchObject({ superseded: true, supersededBy: { op: 'patch', outcome: 'forwarded' } });
    const refused = await api('POST', `/connections/px/jobs/${ids.u3}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/would undo it/);

    // Retry all: u1 goes back in the buffer and is replayed once the upstream takes it; u3 is left alone.
    answers.set('PATCH /Users/u1', 200);
    const all = await api('POST', '/connections/px/jobs/retry');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ retried: 1, skipped: 1 });
    expect(await eventually(async () => (await api('GET', `/connections/px/jobs/${ids.u1}`)).body.state === 'completed')).toBe(true);
    // Forwarded (503, buffered), replayed (400), retried (200): the same rewritten body each time.
    const u1 = received.filter((r) => r.call === 'PATCH /Users/u1');
    expect(u1).toHaveLength(3);
    expect(new Set(u1.map((r) => r.body)).size).toBe(1);
    const done = await api('GET', `/connections/px/jobs/${ids.u1}`);
    expect(done.body.failure).toBeUndefined();
    expect(done.body.attempts).toBe(2);

    // The trace of u3 lists the failed buffered write, marked as overtaken.
    const trace = await cli('trace', 'px', 'u3', '--json');
    expect(trace.code, trace.stderr).toBe(0);
    expect(JSON.parse(trace.stdout).jobs).toEqual([expect.objectContaining({ id: ids.u3, state: 'failed', superseded: true })]);

    const shown = await cli('jobs', 'show', 'px', ids.u3!);
    expect(shown.stdout).toContain('failure     GW_PROXY_REPLAY_REJECTED (upstream answered 400)');
    expect(shown.stdout).toMatch(/superseded {2}yes \(patch forwarded at .*\): discard it/);
    noSecrets(shown.stdout);
    const retried = await cli('jobs', 'retry', 'px', ids.u3!);
    expect(retried.code).toBe(1);
    expect(retried.stderr).toMatch(/not retried: a later write of User u3/);
    // The dashboard's retry button goes straight to BullMQ, past those checks: the replay itself
    // refuses to send the overtaken write, and fails it again for good.
    const sentBefore = received.filter((r) => r.call === 'PATCH /Users/u3').length;
    const raw = await bridge.runtime.proxy('px').buffer!.queue.getJob(ids.u3!);
    await raw!.retry('failed');
    expect(
      await eventually(async () => (await api('GET', `/connections/px/jobs/${ids.u3}`)).body.failure?.code === 'GW_PROXY_REPLAY_SUPERSEDED'),
    ).toBe(true);
    const again = await api('GET', `/connections/px/jobs/${ids.u3}`);
    expect(again.body).toMatchObject({ state: 'failed', superseded: true });
    expect(again.body.failure.message).toMatch(/^GW_PROXY_REPLAY_SUPERSEDED a later write of User u3 \(patch, forwarded at /);
    expect(received.filter((r) => r.call === 'PATCH /Users/u3')).toHaveLength(sentBefore);

    const discarded = await cli('jobs', 'discard', 'px', ids.u3!);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect((await api('GET', `/connections/px/jobs/${ids.u3}`)).status).toBe(404);
    expect((await cli('jobs', 'list', 'px')).stdout).toBe('no jobs\n');
  });
});
