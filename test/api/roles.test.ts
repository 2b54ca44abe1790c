import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_ERROR, SCHEMA_PATCH, startApiBridge, tag, userBody, type ApiBridge, type ScimClient } from './support.js';

/**
 * Roles and entitlements (RFC 7643 §4.1.2, multi-valued) as Entra's app-role mappings send them,
 * and /Me (RFC 7644 §3.11), against a running bridge on real Redis.
 */

const ENTRA_ROLE = { primary: 'True', type: 'WindowsAzureActiveDirectoryRole', value: 'Admin' };
/** SingleAppRoleAssignment: the app role JSON-encoded into `value` (Entra attribute-mapping docs). */
const ROLE_JSON = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}';

let bridge: ApiBridge;
let api: ScimClient;

beforeAll(async () => {
  bridge = await startApiBridge('roles', { connections: [{ id: 'acme' }] });
  api = bridge.clients.acme as ScimClient;
});
afterAll(() => bridge?.close());

const patch = (id: string, Operations: unknown[]) => api.request('PATCH', `/Users/${id}`, { schemas: [SCHEMA_PATCH], Operations });

async function createWith(extra: Record<string, unknown>): Promise<{ id: string; userName: string }> {
  const userName = `roles-${tag()}@example.com`;
  const res = await api.request('POST', '/Users', userBody(userName, extra));
  expect(res.status).toBe(201);
  return { id: res.body.id, userName };
}

describe('roles and entitlements', () => {
  it('stores and returns them from POST, with Entra\'s "True" primary coerced', async () => {
    const { id } = await createWith({ roles: [ENTRA_ROLE], entitlements: [{ value: 'license:e5', display: 'E5' }] });
    const read = (await api.request('GET', `/Users/${id}`)).body;
    expect(read.roles).toEqual([{ ...ENTRA_ROLE, primary: true }]);
    expect(read.entitlements).toEqual([{ value: 'license:e5', display: 'E5' }]);
  });

  it('keeps a JSON-string role value exactly as sent, so Entra finds nothing to re-send', async () => {
    const { id } = await createWith({ roles: [{ primary: true, type: 'WindowsAzureActiveDirectoryRole', value: ROLE_JSON }] });
    const added = await patch(id, [{ op: 'Add', path: 'roles', value: [{ value: ROLE_JSON.replace('"value":"25"', '"value":"26"') }] }]);
    expect(added.status).toBe(200);
    expect(added.body.roles.map((r: { value: string }) => JSON.parse(r.value).value)).toEqual(['25', '26']);
  });

  it('PATCH add appends without duplicating, replace swaps the list, remove by filter or by value drops only those', async () => {
    const { id } = await createWith({ roles: [{ value: 'Admin', type: 'WindowsAzureActiveDirectoryRole' }] });
    const values = (res: { body: { roles?: { value: string }[] } }) => res.body.roles?.map((r) => r.value);

    expect(values(await patch(id, [{ op: 'add', path: 'roles', value: [{ value: 'Writer' }, { value: 'Reader' }] }]))).toEqual(['Admin', 'Writer', 'Reader']);
    expect(values(await patch(id, [{ op: 'add', path: 'roles', value: [{ value: 'Writer' }] }]))).toEqual(['Admin', 'Writer', 'Reader']);
    expect(values(await patch(id, [{ op: 'remove', path: 'roles[value eq "Writer"]' }]))).toEqual(['Admin', 'Reader']);
    expect(values(await patch(id, [{ op: 'Remove', path: 'roles', value: [{ value: 'Reader' }] }]))).toEqual(['Admin']);
    // AssertiveAppRoleAssignmentsComplex sends the whole list as a replace.
    expect(values(await patch(id, [{ op: 'replace', path: 'roles', value: [{ value: 'Owner', primary: 'True' }] }]))).toEqual(['Owner']);
    const cleared = await patch(id, [{ op: 'remove', path: 'roles' }]);
    expect(cleared.status).toBe(200);
    expect(cleared.body.roles).toBeUndefined();
  });

  it('PATCHes entitlements the same way and filters on both', async () => {
    const marker = `lic-${tag()}`;
    const { id } = await createWith({ entitlements: [{ value: `${marker}-a`, type: 'license' }] });
    await patch(id, [{ op: 'add', path: 'entitlements', value: [{ value: `${marker}-b`, type: 'license' }] }]);
    await patch(id, [{ op: 'add', path: 'roles', value: [{ value: `${marker}-role`, primary: true }] }]);
    const ids = async (filter: string) => (await api.request('GET', `/Users?filter=${encodeURIComponent(filter)}`)).body.Resources.map((r: { id: string }) => r.id);
    expect(await ids(`entitlements.value eq "${marker}-b"`)).toEqual([id]);
    expect(await ids(`entitlements[type eq "license" and value eq "${marker}-a"]`)).toEqual([id]);
    expect(await ids(`roles[primary eq "True" and value eq "${marker}-role"]`)).toEqual([id]);
    await patch(id, [{ op: 'remove', path: `entitlements[value eq "${marker}-a"]` }]);
    expect((await api.request('GET', `/Users/${id}`)).body.entitlements).toEqual([{ value: `${marker}-b`, type: 'license' }]);
  });

  it('advertises entitlements and roles in the User schema', async () => {
    const user = (await api.request('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:User')).body;
    for (const name of ['roles', 'entitlements']) {
      const definition = user.attributes.find((a: { name: string }) => a.name === name);
      expect(definition).toMatchObject({ type: 'complex', multiValued: true });
      expect(definition.subAttributes.map((s: { name: string }) => s.name)).toEqual(['value', 'display', 'type', 'primary']);
    }
  });
});

describe('/Me', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])('answers %s with 501 and a SCIM error body', async (method) => {
    const res = await api.request(method, '/Me', method === 'GET' || method === 'DELETE' ? undefined : {});
    expect(res.status).toBe(501);
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], status: '501' });
  });

  it('still requires the bearer secret', async () => {
    expect((await api.request('GET', '/Me', undefined, { authorization: undefined })).status).toBe(401);
  });
});
