import { describe, expect, it } from 'vitest';
import { loadMappingSource } from '../../src/mapping/load.js';
import type { MappingInput } from '../../src/mapping/types.js';
import type { ScimResource } from '../../src/scim/types.js';
import { mappingIssues } from './mapping-issues.js';

/** The `webhook:` shorthand: what it compiles into, and the combinations it refuses at load. */

const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;


const user: ScimResource = { id: 'u-1', schemas: [], userName: 'ann@x', active: true, meta: { resourceType: 'User', created: '', lastModified: '' } };
const group: ScimResource = { id: 'g-1', schemas: [], displayName: 'Team', meta: { resourceType: 'Group', created: '', lastModified: '' } };

describe('webhook: shorthand', () => {
  const plan = loadMappingSource(
    lines(
      'version: 1',
      'users:',
      '  fields: { login: userName }',
      '  webhook: { path: /events }',
      'groups:',
      '  fields: { name: displayName }',
      '  webhook:',
      '    method: PUT',
      '    path: "/hooks/{event}"',
      '    prefix: acme.group',
      '    headers: { X-Source: scim-bridge }',
      '    body: { kind: "{event}", group: "{resource.id}", name: "{fields.name}" }',
      '    events: [created, deleted, member_added]',
      '    on: [{ status: 409, means: ok }]',
    ),
    'hooks.yaml',
  );
  const request = async (input: Omit<MappingInput, 'context'> & { previous?: Record<string, unknown> }) => {
    const [call] = await plan.plan({ ...input, context: input.previous ? { previous: input.previous } : {} });
    return call;
  };

  it('posts {type, id, data, previous} for every user event by default, created keyed by the SCIM id', async () => {
    for (const kind of ['create', 'update', 'deactivate', 'reactivate', 'delete'] as const) expect(plan.has('User', kind)).toBe(true);
    const created = await request({ type: 'User', resource: user, action: { kind: 'create' } });
    expect(created?.request).toEqual({ method: 'POST', path: '/events', headers: {}, body: { type: 'user.created', id: 'u-1', data: { login: 'ann@x' }, previous: null } });
    expect(created?.reader?.readTargetId({ status: 202, headers: {}, body: undefined })).toBe('u-1');
    const updated = await request({ type: 'User', resource: user, targetId: 'u-1', action: { kind: 'update' }, previous: { login: 'old@x' } });
    expect(updated?.request.body).toEqual({ type: 'user.updated', id: 'u-1', data: { login: 'ann@x' }, previous: { login: 'old@x' } });
    const deleted = await request({ type: 'User', resource: user, targetId: 'u-1', action: { kind: 'delete' } });
    expect(deleted?.request.body).toMatchObject({ type: 'user.deleted', id: 'u-1' });
  });

  it('takes method, path, prefix, headers, body and on from the block, only for the listed events', async () => {
    expect(['create', 'update', 'delete', 'addMember', 'removeMember'].map((kind) => plan.has('Group', kind as never))).toEqual([true, false, true, true, false]);
    const created = await request({ type: 'Group', resource: group, action: { kind: 'create' } });
    expect(created?.request).toEqual({
      method: 'PUT',
      path: '/hooks/acme.group.created',
      headers: { 'X-Source': 'scim-bridge' },
      body: { kind: 'acme.group.created', group: 'g-1', name: 'Team' },
    });
    expect(await created?.respond?.({ status: 409, headers: {}, body: undefined, bodyText: '' })).toEqual({ means: 'ok' });
    const member = await request({ type: 'Group', resource: group, targetId: 'g-1', action: { kind: 'addMember', member: { id: 'u-1', targetId: 'u-1', type: 'User' } } });
    expect(member?.request).toMatchObject({ path: '/hooks/acme.group.member_added', body: { type: 'acme.group.member_added', id: 'g-1', member: 'u-1' } });
  });

  it('refuses webhook together with explicit calls, events without created, and half of deactivated/reactivated', () => {
    const both = mappingIssues(lines('version: 1', 'users:', '  webhook: { path: /events }', '  create: { method: POST, path: /a, targetId: id }'));
    expect(both[0]).toMatchObject({ line: 4, path: 'users.create' });
    expect(both[0]?.message).toBe('`webhook:` makes this section\'s calls; remove `create` (or remove `webhook:` and write every call)');
    expect(mappingIssues(lines('version: 1', 'users:', '  webhook: { path: /events, events: [updated] }'))[0]?.message).toMatch(/^`created` is required in events/);
    expect(mappingIssues(lines('version: 1', 'users:', '  webhook: { path: /events, events: [created, deactivated] }'))[0]?.message).toMatch(
      /^list deactivated and reactivated together/,
    );
    expect(mappingIssues(lines('version: 1', 'users:', '  webhook: { path: /events, events: [created, member_added] }'))[0]?.path).toBe('users.webhook.events.1');
    expect(mappingIssues(lines('version: 1', 'users:', '  webhook: { path: /events, memberBody: {} }'))[0]?.message).toMatch(/unknown key "memberBody" in the users webhook/);
    expect(mappingIssues(lines('version: 1', 'users:', '  webhook: { path: events }'))[0]?.message).toMatch(/path must start with "\/"/);
  });

  it('points template errors at the webhook block', () => {
    const [issue] = mappingIssues(lines('version: 1', 'users:', '  fields: { login: userName }', '  webhook:', '    path: /events', '    body: { who: "{fields.nope}" }'));
    expect(issue).toMatchObject({ line: 6, path: 'users.webhook.body.who' });
    expect(issue?.message).toMatch(/unknown field "nope"/);
    const [member] = mappingIssues(lines('version: 1', 'groups:', '  webhook:', '    path: /events', '    memberBody: { m: "{members.ids}" }'));
    expect(member).toMatchObject({ path: 'groups.webhook.memberBody.m' });
  });
});
