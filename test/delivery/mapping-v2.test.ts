import { UnrecoverableError } from 'bullmq';
import { describe, expect, it, vi } from 'vitest';
import { createProcessor, type DeliveryResult } from '../../src/delivery/processor.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { loadMappingSource } from '../../src/mapping/load.js';
import type { ResourceType } from '../../src/scim/types.js';
import { createFakeClient, createMemoryLock, createMemoryStore } from './fakes.js';

/**
 * The v2 constructs end to end through the processor, with the real mapping engine and an
 * in-memory store: references, group-derived fields, conditions, multi-call progress, response
 * rules. The fake client answers POST /users and /groups with `{id: t-<n>}`, GET with `[]`.
 */

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function setup(mappingYaml: string) {
  const store = createMemoryStore();
  const client = createFakeClient();
  const enqueued: DeliveryJobData[] = [];
  const bodies: unknown[] = [];
  const send = client.send.bind(client);
  client.send = async (spec) => {
    bodies.push(spec.body);
    return send(spec);
  };
  const processor = createProcessor({
    connectionId: 'acme',
    store,
    plan: loadMappingSource(mappingYaml, 'v2.yaml'),
    client,
    lock: createMemoryLock(),
    enqueue: async (data) => {
      enqueued.push(data);
    },
    rateLimit: async () => {},
  });
  const job = (type: ResourceType, id: string, trigger?: string) => ({
    id: 'j',
    data: { connectionId: 'acme', type, id, revision: 1, ...(trigger ? { trigger } : {}) },
    moveToDelayed: vi.fn(),
  });
  /** Runs one job; `followUp` runs it as the follow-up job the processor queued for this resource. */
  const run = async (type: ResourceType, id: string, followUp = false): Promise<DeliveryResult & { made: string[]; sent: unknown[] }> => {
    const before = client.calls.length;
    const trigger = followUp ? enqueued.filter((queued) => queued.type === type && queued.id === id).pop()?.trigger : undefined;
    if (followUp && !trigger) throw new Error(`no follow-up job queued for ${type} ${id}`);
    const result = await processor(job(type, id, trigger), 't');
    return { ...result, made: client.calls.slice(before), sent: bodies.slice(before) };
  };
  const failure = (type: ResourceType, id: string) => processor(job(type, id), 't').then(() => undefined, (error: unknown) => error as Error);
  return { store, client, enqueued, run, failure };
}

const lines = (...text: string[]) => `${text.join('\n')}\n`;

describe('references (ref:)', () => {
  const mapping = lines(
    'version: 1',
    'users:',
    '  fields:',
    '    login: userName',
    '    manager:',
    `      from: '${ENTERPRISE}:manager.value'`,
    '      ref: User',
    '      default: null',
    '  create: { method: POST, path: /users, targetId: id }',
    '  update: { method: PUT, path: "/users/{targetId}" }',
  );

  it('waits (retryable GW_MAP_REF_PENDING, nothing sent) until the manager links, then sends its target id', async () => {
    const t = setup(mapping);
    t.store.put('User', { id: 'boss', userName: 'boss@x' });
    t.store.put('User', { id: 'ann', userName: 'ann@x', [ENTERPRISE]: { manager: { value: 'boss' } } });
    const error = await t.failure('User', 'ann');
    expect(error).not.toBeInstanceOf(UnrecoverableError);
    expect(error).toMatchObject({ code: 'GW_MAP_REF_PENDING' });
    expect(error?.message).toContain('User boss (users.fields.manager)');
    expect(t.client.calls).toEqual([]);

    expect(await t.run('User', 'boss')).toMatchObject({ made: ['POST /users'] });
    expect(t.enqueued).toEqual([expect.objectContaining({ type: 'User', id: 'ann', trigger: expect.stringMatching(/^ref-User-boss/) })]);
    expect(await t.run('User', 'ann', true)).toMatchObject({ made: ['POST /users'], sent: [{ login: 'ann@x', manager: 't-1' }] });
  });

  it('sends null once the manager is deleted, and the manager\'s delete re-queues its reports', async () => {
    const t = setup(mapping);
    t.store.put('User', { id: 'boss', userName: 'boss@x' });
    t.store.put('User', { id: 'ann', userName: 'ann@x', [ENTERPRISE]: { manager: { value: 'boss' } } });
    await t.run('User', 'boss');
    await t.run('User', 'ann');
    t.enqueued.length = 0;
    t.store.remove('User', 'boss');
    await t.run('User', 'boss');
    expect(t.enqueued.map((job) => job.id)).toEqual(['ann']);
    expect(await t.run('User', 'ann', true)).toMatchObject({ made: ['PUT /users/t-2'], sent: [{ login: 'ann@x', manager: null }] });
  });
});

describe('fields from groups (fromGroups, $groups)', () => {
  const mapping = lines(
    'version: 1',
    'users:',
    '  fields:',
    '    login: userName',
    '    role:',
    '      fromGroups:',
    '        table:',
    '          - { groups: [App Admins], value: Admin }',
    '          - { groups: [App Editors, Writers], value: Editor }',
    '      default: User',
    '    teams:',
    '      expr: "$sort($groups.displayName)"',
    '  create: { method: POST, path: /users, targetId: id }',
    '  update: { method: PUT, path: "/users/{targetId}" }',
  );

  it('picks the first matching row, re-delivers members when the group changes, is renamed or deleted', async () => {
    const t = setup(mapping);
    t.store.put('User', { id: 'u1', userName: 'u1@x' });
    t.store.put('Group', { id: 'g1', displayName: 'app editors' }, ['u1']);
    t.store.put('Group', { id: 'g2', displayName: 'Other' }, ['u1']);
    expect(await t.run('User', 'u1')).toMatchObject({ sent: [{ login: 'u1@x', role: 'Editor', teams: ['Other', 'app editors'] }] });

    // Groups are not delivered by this mapping, but their jobs re-queue the members.
    expect(await t.run('Group', 'g1')).toMatchObject({ outcome: 'converged', made: [] });
    expect(t.enqueued.filter((job) => job.trigger?.startsWith('group-')).map((job) => `${job.type}:${job.id}`)).toEqual(['User:u1']);
    expect(await t.run('User', 'u1', true)).toMatchObject({ outcome: 'converged', made: [] });

    t.enqueued.length = 0;
    t.store.put('Group', { id: 'g1', displayName: 'App Admins' });
    await t.run('Group', 'g1');
    expect(t.enqueued.map((job) => job.id)).toEqual(['u1']);
    expect(await t.run('User', 'u1', true)).toMatchObject({ sent: [{ role: 'Admin', teams: ['App Admins', 'Other'] }] });

    t.enqueued.length = 0;
    t.store.remove('Group', 'g1');
    t.store.put('Group', { id: 'g2', displayName: 'Other' }, ['u1']);
    await t.run('Group', 'g1');
    expect(t.enqueued.map((job) => job.id)).toEqual(['u1']);
    expect(await t.run('User', 'u1', true)).toMatchObject({ sent: [{ role: 'User', teams: ['Other'] }] });
  });
});

describe('conditions and shaping (when, omitIfEmpty, type)', () => {
  it('leaves out fields and skips calls whose condition is false, coerces types', async () => {
    const t = setup(
      lines(
        'version: 1',
        'users:',
        '  fields:',
        '    login: userName',
        '    title: { from: title, omitIfEmpty: true }',
        '    level: { from: userType, type: number }',
        '    vip: { from: nickName, type: boolean, when: "$exists(nickName)" }',
        '  create:',
        '    - { method: POST, path: /users, targetId: id }',
        '    - { method: PUT, path: "/users/{targetId}/title", body: { t: "{fields.title}" }, when: "$exists($fields.title)" }',
      ),
    );
    t.store.put('User', { id: 'u1', userName: 'a', title: '', userType: '3' });
    expect(await t.run('User', 'u1')).toMatchObject({ made: ['POST /users'], sent: [{ login: 'a', level: 3 }] });
    t.store.put('User', { id: 'u2', userName: 'b', title: 'Boss', nickName: 'TRUE', userType: 4 });
    expect(await t.run('User', 'u2')).toMatchObject({
      made: ['POST /users', 'PUT /users/t-2/title'],
      sent: [{ login: 'b', title: 'Boss', level: 4, vip: true }, { t: 'Boss' }],
    });
  });
});

describe('multi-call operations', () => {
  const mapping = lines(
    'version: 1',
    'users:',
    '  fields:',
    '    login: userName',
    '  create:',
    '    - { method: POST, path: /users, targetId: id, capture: { uid: id } }',
    '    - { method: PUT, path: "/users/{captured.uid}/profile", body: { login: "{fields.login}" } }',
    '    - { method: POST, path: "/teams/default/members", body: { user: "{targetId}" } }',
  );

  it('uses captured values, and a retry resumes after the last call that succeeded', async () => {
    const t = setup(mapping);
    t.client.script('POST /teams/default/members', { status: 503 });
    t.store.put('User', { id: 'u1', userName: 'a' });
    expect(await t.failure('User', 'u1')).toMatchObject({ code: 'GW_DELIVERY_RETRYABLE' });
    expect(t.client.calls).toEqual(['POST /users', 'PUT /users/t-1/profile', 'POST /teams/default/members']);
    expect(t.store.states.get('User:u1')).toMatchObject({ targetId: 't-1', progress: { step: 'create', done: 2, captured: { uid: 't-1' } } });
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'converged', made: ['POST /teams/default/members'], sent: [{ user: 't-1' }] });
    expect(t.store.states.get('User:u1')?.progress).toBeUndefined();
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'stale', made: [] });
  });
});

describe('response rules (on:)', () => {
  const mapping = lines(
    'version: 1',
    'users:',
    '  fields:',
    '    login: userName',
    '  lookup: { method: GET, path: "/users?login={fields.login}", targetId: "[0].id" }',
    '  create:',
    '    method: POST',
    '    path: /users',
    '    targetId: id',
    '    on:',
    '      - { status: 409, means: exists }',
    `      - { status: 422, match: "code = 'BAD_LOGIN'", means: invalid, detail: 'errors[0].message' }`,
    '      - { status: 423, means: retry }',
    '  update: { method: PUT, path: "/users/{targetId}", on: [{ status: 404, means: gone }] }',
  );

  it('409 means exists: looks the account up and links it instead of failing', async () => {
    const t = setup(mapping);
    t.client.script('GET /users', { status: 200, json: [] }, { status: 200, json: [{ id: 'old-7' }] });
    t.client.script('POST /users', { status: 409, bodyText: '{}' });
    t.store.put('User', { id: 'u1', userName: 'a' });
    expect(await t.run('User', 'u1')).toMatchObject({ made: ['GET /users?login=a', 'POST /users', 'GET /users?login=a', 'PUT /users/old-7'] });
    expect(t.store.states.get('User:u1')).toMatchObject({ targetId: 'old-7', revision: 1 });
  });

  it('invalid puts the extracted detail in the reason; a body that does not match falls back to the defaults', async () => {
    const t = setup(mapping);
    t.client.script('POST /users', { status: 422, json: { code: 'BAD_LOGIN', errors: [{ message: 'login must be lowercase' }] }, bodyText: '{}' });
    t.store.put('User', { id: 'u1', userName: 'A' });
    const error = await t.failure('User', 'u1');
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error?.message).toBe('GW_DELIVERY_INVALID_VALUE POST /users (users.create) answered 422: login must be lowercase');
    t.client.script('POST /users', { status: 422, json: { code: 'OTHER' }, bodyText: '{"code":"OTHER"}' });
    expect((await t.failure('User', 'u1'))?.message).toMatch(/^GW_DELIVERY_REJECTED 422/);
    t.client.script('POST /users', { status: 423 });
    expect(await t.failure('User', 'u1')).toMatchObject({ code: 'GW_DELIVERY_RETRYABLE' });
  });

  it('GW_MAP_NO_TARGET_ID names the targetId path and the keys the answer had', async () => {
    const t = setup(mapping);
    t.client.script('POST /users', { status: 201, json: { data: { uid: 1 }, ok: true }, bodyText: '' });
    t.store.put('User', { id: 'u1', userName: 'a' });
    expect((await t.failure('User', 'u1'))?.message).toBe(
      'GW_MAP_NO_TARGET_ID the create answer of User u1 (POST /users → 201) has no id at targetId "id" (users.create); the answer had keys data, ok',
    );
  });
});
