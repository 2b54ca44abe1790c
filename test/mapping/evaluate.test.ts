import { describe, expect, it } from 'vitest';
import { MappingEvaluationError } from '../../src/mapping/errors.js';
import { loadMapping, loadMappingSource } from '../../src/mapping/load.js';
import type { ScimResource } from '../../src/scim/types.js';

/** Run-time behaviour of a loaded plan: the sample mapping on a realistic Entra user, and failures. */

const entraUser: ScimResource = {
  id: '6c1f2b6e-0d2f-4b67-9a0c-1a2b3c4d5e6f',
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
  meta: { resourceType: 'User', created: '2026-01-01T00:00:00.000Z', lastModified: '2026-01-01T00:00:00.000Z' },
  externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
  userName: 'Test_User_00aa00aa@testuser.com',
  active: true,
  emails: [{ primary: true, type: 'work', value: 'Test_User_11bb11bb@testuser.com' }],
  name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
  roles: [],
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Retail', employeeNumber: '42' },
};

const entraGroup: ScimResource = {
  id: 'g-1',
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
  meta: { resourceType: 'Group', created: '2026-01-01T00:00:00.000Z', lastModified: '2026-01-01T00:00:00.000Z' },
  displayName: 'Sales',
  externalId: 'sales-guid',
};

describe('mappings/sample-legacy.yaml', () => {
  it('loads and maps a realistic Entra user', async () => {
    const plan = await loadMapping('mappings/sample-legacy.yaml');
    expect(plan.name).toBe('sample-legacy');
    expect(plan.supports('User') && plan.supports('Group')).toBe(true);
    const fields = {
      login: 'Test_User_00aa00aa@testuser.com',
      email: 'Test_User_11bb11bb@testuser.com',
      first_name: 'givenName',
      last_name: 'familyName',
      department: 'Retail',
      display_name: 'givenName familyName',
    };
    expect(await plan.fields('User', entraUser)).toEqual(fields);
    expect(await plan.check('User', entraUser)).toEqual([]);
    // The demo mapping accepts any userName: SCIM test suites send plain names.
    expect(await plan.check('User', { ...entraUser, userName: 'no-at-sign' })).toEqual([]);

    const [lookup] = await plan.plan({ type: 'User', resource: entraUser, action: { kind: 'lookup' } });
    expect(lookup?.request).toEqual({ method: 'GET', path: '/api/v1/accounts?login=Test_User_00aa00aa%40testuser.com', headers: {} });
    expect(lookup?.reader?.readTargetId({ status: 200, headers: {}, body: { data: [] } })).toBeUndefined();
    expect(lookup?.reader?.readTargetId({ status: 200, headers: {}, body: { data: [{ account_id: 7 }] } })).toBe('7');

    const [create] = await plan.plan({ type: 'User', resource: entraUser, action: { kind: 'create' } });
    expect(create?.request).toEqual({ method: 'POST', path: '/api/v1/accounts', headers: {}, body: fields });
    expect(create?.reader?.readTargetId({ status: 201, headers: {}, body: { data: { account_id: 'acc-1' } } })).toBe('acc-1');

    const [disable] = await plan.plan({ type: 'User', resource: entraUser, targetId: 'acc-1', action: { kind: 'deactivate' } });
    expect(disable?.request).toEqual({ method: 'POST', path: '/api/v1/accounts/acc-1/disable', headers: {} });

    const member = { id: entraUser.id, targetId: 'acc-1', type: 'User' as const };
    const [add] = await plan.plan({ type: 'Group', resource: entraGroup, targetId: 'team-9', action: { kind: 'addMember', member } });
    expect(add?.request).toEqual({ method: 'PUT', path: '/api/v1/teams/team-9/members/acc-1', headers: {} });
    expect(plan.has('User', 'addMember')).toBe(false);
    expect(plan.has('Group', 'deactivate')).toBe(false);
  });
});

const base = ['version: 1', 'users:', '  create: { method: POST, path: /a, targetId: id }'];

describe('evaluation errors', () => {
  it('fails with GW_MAP_EVAL and the field name when a JSONata expression throws', async () => {
    const plan = loadMappingSource(
      [...base, '  fields:', '    upper:', `      expr: '$uppercase(active)'`].join('\n'),
      'eval.yaml',
    );
    const error = await plan.fields('User', entraUser).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MappingEvaluationError);
    expect(error).toMatchObject({ code: 'GW_MAP_EVAL', where: 'users.fields.upper' });
    expect((error as Error).message).toMatch(/^users\.fields\.upper: JSONata T0410/);
  });

  it('never sends "undefined" in a path: a missing value is GW_MAP_EVAL', async () => {
    const plan = loadMappingSource([...base, '  update: { method: PUT, path: "/a/{targetId}" }'].join('\n'), 'eval.yaml');
    await expect(plan.plan({ type: 'User', resource: entraUser, action: { kind: 'update' } })).rejects.toMatchObject({
      code: 'GW_MAP_EVAL',
      message: 'users.update.path: {targetId} has no value for this resource (the resource has no target id yet)',
    });
    const lookup = loadMappingSource(
      [...base, '  lookup: { method: GET, path: "/a?nick={resource.nickName}", targetId: id }'].join('\n'),
      'eval.yaml',
    );
    await expect(lookup.plan({ type: 'User', resource: entraUser, action: { kind: 'lookup' } })).rejects.toThrow(MappingEvaluationError);
  });

  it('plans nothing for a call or a section the mapping does not define', async () => {
    const plan = loadMappingSource(base.join('\n'), 'eval.yaml');
    expect(plan.supports('Group')).toBe(false);
    expect(await plan.plan({ type: 'User', resource: entraUser, targetId: 'x', action: { kind: 'delete' } })).toEqual([]);
    expect(await plan.plan({ type: 'Group', resource: entraGroup, action: { kind: 'create' } })).toEqual([]);
    expect(await plan.fields('Group', entraGroup)).toEqual({});
    expect(await plan.check('Group', entraGroup)).toEqual([]);
  });

  it('reads the target id from the last segment of the Location header', async () => {
    const plan = loadMappingSource(['version: 1', 'users:', '  create: { method: POST, path: /a, targetId: "header:location" }'].join('\n'), 'h.yaml');
    const [create] = await plan.plan({ type: 'User', resource: entraUser, action: { kind: 'create' } });
    expect(create?.reader?.readTargetId({ status: 201, headers: { location: '/api/widgets/w%2042/?x=1' }, body: undefined })).toBe('w 42');
    expect(create?.reader?.readTargetId({ status: 201, headers: {}, body: undefined })).toBeUndefined();
  });
});

describe('field evaluation within a job', () => {
  it('evaluates the mapped fields of one document and context once: the planner hash and the create body share them', async () => {
    const plan = await loadMapping('mappings/sample-legacy.yaml');
    let reads = 0;
    const counted = new Proxy(entraUser, {
      get(target, property, receiver) {
        if (property === 'userName') reads += 1;
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const context = {};
    const fields = await plan.fields('User', counted, context);
    const afterFields = reads;
    expect(afterFields).toBeGreaterThan(0);
    const [create] = await plan.plan({ type: 'User', resource: counted, action: { kind: 'create' }, context });
    expect(reads).toBe(afterFields);
    expect(JSON.stringify(create?.request.body)).toContain(String(fields.login));
    // Another context (another job) evaluates afresh.
    await plan.fields('User', counted, {});
    expect(reads).toBeGreaterThan(afterFields);
  });
});
