import { describe, expect, it } from 'vitest';
import { dryRun } from '../../src/cli/dry-run.js';
import { loadMappingSource } from '../../src/mapping/load.js';

/** dry-run with the v2 constructs: references, group-derived fields and multi-call operations. */

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const mapping = loadMappingSource(
  [
    'version: 1',
    'users:',
    '  fields:',
    '    login: userName',
    '    role:',
    '      fromGroups: { table: [{ groups: [App Admins], value: Admin }] }',
    '      default: User',
    '    manager_id:',
    `      from: '${ENTERPRISE}:manager.value'`,
    '      ref: User',
    '  create:',
    '    - { method: POST, path: /people, targetId: data.id, capture: { key: data.key } }',
    '    - { method: PUT, path: "/people/{targetId}/manager", body: { manager: "{fields.manager_id}", key: "{captured.key}" }, when: "$exists($fields.manager_id)" }',
    '',
  ].join('\n'),
  'v2.yaml',
);

const post = (body: Record<string, unknown>) => ({ method: 'POST', path: '/Users', body: { schemas: [], ...body } });

describe('dry-run with mapping v2', () => {
  it('shows reference and captured placeholders, derived fields from --groups, and every call of a list', async () => {
    const calls = await dryRun(mapping, post({ userName: 'ann@x', [ENTERPRISE]: { manager: { value: 'boss-1' } } }), undefined, [
      { id: 'g', displayName: 'app admins' },
    ]);
    expect(calls.map((call) => [call.request.method, call.request.path, call.request.body])).toEqual([
      ['POST', '/people', { login: 'ann@x', role: 'Admin', manager_id: 'TARGET_ID_OF_boss-1' }],
      ['PUT', '/people/TARGET_ID/manager', { manager: 'TARGET_ID_OF_boss-1', key: 'CAPTURED_key' }],
    ]);
  });

  it('skips the call whose when is false', async () => {
    const calls = await dryRun(mapping, post({ userName: 'bob@x' }));
    expect(calls.map((call) => [call.request.path, call.request.body])).toEqual([['/people', { login: 'bob@x', role: 'User' }]]);
  });
});

describe('dry-run with bulk member calls', () => {
  const teams = loadMappingSource(
    [
      'version: 1',
      'groups:',
      '  fields: { name: displayName }',
      '  create: { method: POST, path: /teams, targetId: id }',
      '  addMembers: { method: POST, path: "/teams/{targetId}/members", body: { userIds: "{members.targetIds}" } }',
      '  removeMembers: { method: DELETE, path: "/teams/{targetId}/members?ids={members.targetIds}" }',
      '  memberChunkSize: 2',
      '  memberCallsPerJob: 1',
      '',
    ].join('\n'),
    'teams.yaml',
  );

  it('prints one call per chunk, also past one job\'s bound', async () => {
    const members = ['m1', 'm2', 'm3', 'm4', 'm5'].map((value) => ({ value }));
    const calls = await dryRun(teams, { method: 'POST', path: '/Groups', body: { schemas: [], displayName: 'T', members } });
    expect(calls.map((call) => [call.request.method, call.request.path, call.request.body])).toEqual([
      ['POST', '/teams', { name: 'T' }],
      ['POST', '/teams/TARGET_ID/members', { userIds: ['TARGET_ID_OF_m1', 'TARGET_ID_OF_m2'] }],
      ['POST', '/teams/TARGET_ID/members', { userIds: ['TARGET_ID_OF_m3', 'TARGET_ID_OF_m4'] }],
      ['POST', '/teams/TARGET_ID/members', { userIds: ['TARGET_ID_OF_m5'] }],
    ]);
  });

  it('prints the removal of members as chunked calls', async () => {
    const state = { id: 'g1', schemas: [], displayName: 'T', members: ['m1', 'm2', 'm3'].map((value) => ({ value })) };
    const request = { method: 'PATCH', path: '/Groups/g1', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'members', value: [] }] } };
    const calls = await dryRun(teams, request, state as never);
    expect(calls.map((call) => [call.request.method, call.request.path])).toEqual([
      ['DELETE', '/teams/TARGET_ID/members?ids=TARGET_ID_OF_m1,TARGET_ID_OF_m2'],
      ['DELETE', '/teams/TARGET_ID/members?ids=TARGET_ID_OF_m3'],
    ]);
  });
});
