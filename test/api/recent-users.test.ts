import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { createRecentUsers } from '../../src/provisioning/recent-users.js';
import type { StoredResource } from '../../src/store/types.js';
import type { ScimChangeEvent } from '../../src/ops/timeline.js';
import { SAMPLE_MAPPING, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';

/**
 * A user's PATCH or PUT may start from the copy this API process last wrote or read
 * (src/provisioning/recent-users.ts). Two API processes on one Redis: whatever the other one
 * changed since, a write from a stale copy must end exactly as if it had read Redis first.
 */
let a: BridgeFixture;
let b: RunningBridge;
let dir: string;

beforeAll(async () => {
  // A rule whose verdict depends on what is stored: an inactive user must have a title.
  dir = await mkdtemp(join(tmpdir(), 'recent-users-'));
  const mapping = join(dir, 'mapping.yaml');
  const rule = ['users:', '  validate:', "    - expr: '$not(active = false) or $exists(title)'", '      detail: an inactive user needs a title'].join('\n');
  await writeFile(mapping, (await readFile(SAMPLE_MAPPING, 'utf8')).replace(/^users:$/m, rule));
  a = await startBridgeFixture('recent-users', { worker: false, connection: { mapping } });
  b = await startBridge(a.config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
});

afterAll(async () => {
  await b?.close();
  await a?.close();
  await rm(dir, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field
async function viaB(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${b.url}/acme/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${a.secret}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const replace = (path: string, value: unknown) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path, value }] });
const add = (path: string, value: unknown) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path, value }] });

let n = 0;
async function createViaA(): Promise<string> {
  n += 1;
  const created = await a.scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: `recent-${n}-${Date.now()}@example.com`,
    active: true,
    displayName: 'Old Name',
    emails: [{ type: 'work', primary: true, value: `recent-${n}@example.com` }],
  });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

describe('PATCH from this process’s copy of a user', () => {
  it('keeps what another process wrote since the copy was made', async () => {
    const id = await createViaA();
    expect((await viaB('PATCH', `/Users/${id}`, replace('title', 'Boss'))).status).toBe(200);
    expect((await viaB('PATCH', `/Users/${id}`, replace('active', false))).status).toBe(200);
    const patched = await a.scim('PATCH', `/Users/${id}`, replace('displayName', 'New Name'));
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ active: false, title: 'Boss', displayName: 'New Name', meta: { version: 'W/"4"' } });
    expect((await viaB('GET', `/Users/${id}`)).body).toMatchObject({ active: false, displayName: 'New Name' });
  });

  it('writes a change the stale copy already shows (a no-op on the copy is not one in Redis)', async () => {
    const id = await createViaA();
    await viaB('PATCH', `/Users/${id}`, replace('title', 'Boss'));
    await viaB('PATCH', `/Users/${id}`, replace('active', false));
    const patched = await a.scim('PATCH', `/Users/${id}`, replace('active', true));
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ active: true, meta: { version: 'W/"4"' } });
    expect((await viaB('GET', `/Users/${id}`)).body.active).toBe(true);
  });

  it('applies a patch that only fits what Redis holds (its filter matches a value the copy lacks)', async () => {
    const id = await createViaA();
    await viaB('PATCH', `/Users/${id}`, add('emails', [{ type: 'home', value: 'home@example.com' }]));
    const patched = await a.scim('PATCH', `/Users/${id}`, replace('emails[type eq "home"].value', 'home2@example.com'));
    expect(patched.status).toBe(200);
    expect(patched.body.emails).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'home', value: 'home2@example.com' })]));
  });

  it('accepts a change that fails a rule only on the stale copy', async () => {
    const id = await createViaA();
    await viaB('PATCH', `/Users/${id}`, replace('title', 'Boss'));
    // On the copy (no title) deactivating breaks the rule; on what Redis holds it does not.
    const patched = await a.scim('PATCH', `/Users/${id}`, replace('active', false));
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ active: false, title: 'Boss' });
    const refused = await a.scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: 'title' }] });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain('an inactive user needs a title');
  });

  it('answers 404 for a user another process deleted', async () => {
    const id = await createViaA();
    expect((await viaB('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await a.scim('PATCH', `/Users/${id}`, replace('displayName', 'Gone'))).status).toBe(404);
  });

  it('starts from a copy read by a filter query, and from one it wrote itself', async () => {
    const id = await createViaA();
    const found = await viaB('GET', `/Users?filter=${encodeURIComponent(`id eq "${id}"`)}`);
    expect(found.body.totalResults).toBe(1);
    for (const name of ['One', 'Two', 'Three']) expect((await viaB('PATCH', `/Users/${id}`, replace('displayName', name))).body.displayName).toBe(name);
    expect((await a.scim('GET', `/Users/${id}`)).body).toMatchObject({ displayName: 'Three', meta: { version: 'W/"4"' } });
  });
});

describe('PUT from this process’s copy of a user', () => {
  const body = (displayName: string, extra: Record<string, unknown> = {}) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: `put-${displayName}-${Date.now()}@example.com`,
    active: true,
    displayName,
    ...extra,
  });

  it('replaces what another process wrote since the copy was made, on top of its revision', async () => {
    const id = await createViaA();
    const created = (await a.scim('GET', `/Users/${id}`)).body.meta.created as string;
    expect((await viaB('PATCH', `/Users/${id}`, replace('title', 'Boss'))).status).toBe(200);
    expect((await viaB('PATCH', `/Users/${id}`, replace('nickName', 'B'))).status).toBe(200);
    // A's copy is at revision 1; Redis holds revision 3.
    const put = await a.scim('PUT', `/Users/${id}`, body('Replaced'));
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ displayName: 'Replaced', meta: { version: 'W/"4"', created } });
    expect(put.body.title).toBeUndefined();
    const read = (await viaB('GET', `/Users/${id}`)).body;
    expect(read).toMatchObject({ displayName: 'Replaced', meta: { version: 'W/"4"' } });
    expect(read.title).toBeUndefined();
    expect(read.nickName).toBeUndefined();
    // Its timeline event is the write Redis saw: revision 4, and what changed against revision 3.
    const events = await a.bridge.runtime.connection('acme').timeline.read('User', id);
    const last = events.filter((e): e is ScimChangeEvent => e.kind === 'scim').at(-1);
    expect(last).toMatchObject({ op: 'replace', revision: 4 });
    expect(last?.attributes).toEqual(expect.arrayContaining(['title', 'nickName', 'displayName']));
  });

  it('goes on from its own copy, and honours If-Match against what Redis holds', async () => {
    const id = await createViaA();
    for (const [k, name] of ['One', 'Two'].entries()) {
      expect((await a.scim('PUT', `/Users/${id}`, body(name))).body.meta.version).toBe(`W/"${k + 2}"`);
    }
    await viaB('PATCH', `/Users/${id}`, replace('title', 'Boss'));
    const stale = await a.scim('PUT', `/Users/${id}`, body('Three'), { 'if-match': 'W/"3"' });
    expect(stale.status).toBe(412);
    expect((await viaB('GET', `/Users/${id}`)).body).toMatchObject({ displayName: 'Two', title: 'Boss', meta: { version: 'W/"4"' } });
  });

  it('answers 404 for a user another process deleted', async () => {
    const id = await createViaA();
    expect((await viaB('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await a.scim('PUT', `/Users/${id}`, body('Gone'))).status).toBe(404);
  });

  it('writes nothing for a PUT that changes nothing, unless only the stale copy says so', async () => {
    const id = await createViaA();
    const same = body('Same');
    expect((await a.scim('PUT', `/Users/${id}`, same)).body.meta.version).toBe('W/"2"');
    const again = await a.scim('PUT', `/Users/${id}`, same);
    expect(again.status).toBe(200);
    expect(again.body.meta.version).toBe('W/"2"');
    const events = async () => (await a.bridge.runtime.connection('acme').timeline.read('User', id)).filter((e) => e.kind === 'scim').length;
    expect(await events()).toBe(2);
    // B adds a title: A's copy (revision 2) equals the PUT, Redis (revision 3) does not.
    await viaB('PATCH', `/Users/${id}`, replace('title', 'Boss'));
    const put = await a.scim('PUT', `/Users/${id}`, same);
    expect(put.body.meta.version).toBe('W/"4"');
    expect((await viaB('GET', `/Users/${id}`)).body.title).toBeUndefined();
    expect(await events()).toBe(4);
  });
});

describe('createRecentUsers', () => {
  const user = (id: string, revision = 1): StoredResource => ({ type: 'User', id, revision, doc: { id, schemas: [], userName: id, meta: { resourceType: 'User', created: '2026-01-01T00:00:00.000Z', lastModified: '2026-01-01T00:00:00.000Z' } } });

  it('drops the least recently used past its bound, keeps no groups, and freezes what it keeps', () => {
    const recent = createRecentUsers(2);
    recent.remember(user('a'));
    recent.remember(user('b'));
    expect(recent.get('a')?.id).toBe('a');
    recent.remember(user('c'));
    expect(recent.get('b')).toBeUndefined();
    expect(recent.get('a')).toBeDefined();
    recent.remember({ ...user('g'), type: 'Group' });
    expect(recent.get('g')).toBeUndefined();
    const kept = recent.get('c')!;
    expect(Object.isFrozen(kept) && Object.isFrozen(kept.doc) && Object.isFrozen(kept.doc.meta)).toBe(true);
    recent.forget('c');
    expect(recent.get('c')).toBeUndefined();
    const none = createRecentUsers(0);
    none.remember(user('x'));
    expect(none.get('x')).toBeUndefined();
  });
});
