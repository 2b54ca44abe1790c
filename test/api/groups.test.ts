import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupBody, SCHEMA_PATCH, startApiBridge, tag, userBody, type ApiBridge, type ScimClient } from './support.js';

/**
 * Groups over real HTTP the way Entra drives them: create, lookups with and without members,
 * rename, member adds in parallel, removal in every form Entra sends, and a deleted user
 * leaving its groups. Group PATCHes answer 204 (Entra does not read members back).
 */

let b: ApiBridge;
let api: ScimClient;

beforeAll(async () => {
  b = await startApiBridge('api-groups', { connections: [{ id: 'acme' }] });
  api = b.clients.acme!;
});
afterAll(async () => {
  await b?.close();
});

async function createUsers(n: number): Promise<string[]> {
  const created = await Promise.all(
    Array.from({ length: n }, () => api.request('POST', '/Users', userBody(`member-${tag()}-${tag()}@example.com`))),
  );
  for (const res of created) expect(res.status, res.text).toBe(201);
  return created.map((res) => res.body.id as string);
}

async function createGroup(memberIds: string[] = []): Promise<string> {
  const res = await api.request('POST', '/Groups', groupBody(`Group ${tag()}`, memberIds.length ? { members: memberIds.map((value) => ({ value })) } : {}));
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

async function memberIds(groupId: string): Promise<string[]> {
  const res = await api.request('GET', `/Groups/${groupId}`);
  expect(res.status).toBe(200);
  return ((res.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}

function patch(groupId: string, ...operations: Record<string, unknown>[]) {
  return api.request('PATCH', `/Groups/${groupId}`, { schemas: [SCHEMA_PATCH], Operations: operations });
}

describe('groups', () => {
  it('creates a group with members and reads it with and without them', async () => {
    const users = await createUsers(3);
    const name = `Engineers ${tag()}`;
    const created = await api.request('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: name,
      members: users.map((value) => ({ value, $ref: null })),
      meta: { resourceType: 'Group' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${api.url}/Groups/${created.body.id}`);
    expect(created.body).toMatchObject({ displayName: name, externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', meta: { resourceType: 'Group' } });
    expect(created.body.members.map((m: { value: string }) => m.value).sort()).toEqual([...users].sort());

    const full = await api.request('GET', `/Groups/${created.body.id}`);
    expect(full.body.members).toHaveLength(3);
    for (const member of full.body.members) expect(member).toEqual({ value: member.value, $ref: `${api.url}/Users/${member.value}`, type: 'User' });

    const lean = await api.request('GET', `/Groups/${created.body.id}?excludedAttributes=members`);
    expect(lean.status).toBe(200);
    expect(lean.body.members).toBeUndefined();
    expect(lean.body).toMatchObject({ id: created.body.id, displayName: name });

    const listed = await api.request('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${name}"`)}`);
    expect(listed.body.Resources[0].members).toBeUndefined();
    const listedFull = await api.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`);
    expect(listedFull.body.Resources[0].members).toHaveLength(3);
  });

  it('keeps all 50 members added by 50 concurrent PATCHes', async () => {
    const users = await createUsers(50);
    const gid = await createGroup();
    const answers = await Promise.all(users.map((id) => patch(gid, { op: 'Add', path: 'members', value: [{ $ref: null, value: id }] })));
    expect(answers.map((a) => a.status)).toEqual(users.map(() => 204));
    expect(await memberIds(gid)).toEqual([...users].sort());
  });

  it('keeps a rename and every member when both arrive at once', async () => {
    const users = await createUsers(20);
    const gid = await createGroup();
    const name = `Renamed under load ${tag()}`;
    const answers = await Promise.all([
      ...users.map((id) => patch(gid, { op: 'Add', path: 'members', value: [{ value: id }] })),
      patch(gid, { op: 'Replace', path: 'displayName', value: name }),
    ]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 204));
    expect(await memberIds(gid)).toEqual([...users].sort());
    expect((await api.request('GET', `/Groups/${gid}?excludedAttributes=members`)).body.displayName).toBe(name);
  });

  it('renames with a path and with a path-less replace, and answers 204', async () => {
    const [user] = await createUsers(1);
    const gid = await createGroup([user!]);
    const oldName = (await api.request('GET', `/Groups/${gid}`)).body.displayName as string;
    const first = `Renamed ${tag()}`;
    const rename = await patch(gid, { op: 'Replace', path: 'displayName', value: first });
    expect(rename.status).toBe(204);
    expect(rename.text).toBe('');
    const read = await api.request('GET', `/Groups/${gid}`);
    expect(read.body.displayName).toBe(first);
    expect(read.body.members.map((m: { value: string }) => m.value)).toEqual([user]);
    const byOld = await api.request('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${oldName}"`)}`);
    expect(byOld.body.totalResults).toBe(0);

    const second = `Renamed again ${tag()}`;
    expect((await patch(gid, { op: 'replace', value: { displayName: second, externalId: 'c3b9-ext' } })).status).toBe(204);
    expect((await api.request('GET', `/Groups/${gid}`)).body).toMatchObject({ displayName: second, externalId: 'c3b9-ext' });
    const byNew = await api.request('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${second}"`)}`);
    expect(byNew.body.Resources.map((g: { id: string }) => g.id)).toEqual([gid]);
  });

  it("answers a rename to another group's name with 409", async () => {
    const taken = (await api.request('POST', '/Groups', groupBody(`Taken ${tag()}`))).body.displayName as string;
    const gid = await createGroup();
    const res = await patch(gid, { op: 'Replace', path: 'displayName', value: taken });
    expect(res.status).toBe(409);
    expect(res.body.scimType).toBe('uniqueness');
  });

  describe('member removal', () => {
    it('removes the listed members with the legacy Remove + value list, leaving the rest', async () => {
      const users = await createUsers(4);
      const gid = await createGroup(users);
      const res = await patch(gid, { op: 'Remove', path: 'members', value: [{ value: users[0] }, { value: users[2] }] });
      expect(res.status).toBe(204);
      expect(await memberIds(gid)).toEqual([users[1]!, users[3]!].sort());
    });

    it('removes one member with the members[value eq "…"] filter path', async () => {
      const users = await createUsers(3);
      const gid = await createGroup(users);
      expect((await patch(gid, { op: 'remove', path: `members[value eq "${users[1]}"]` })).status).toBe(204);
      expect(await memberIds(gid)).toEqual([users[0]!, users[2]!].sort());
    });

    it('removes several members in one PATCH with several operations', async () => {
      const users = await createUsers(4);
      const gid = await createGroup(users);
      const res = await patch(
        gid,
        { op: 'Remove', path: 'members', value: [{ value: users[0] }] },
        { op: 'remove', path: `members[value eq "${users[1]}"]` },
      );
      expect(res.status).toBe(204);
      expect(await memberIds(gid)).toEqual([users[2]!, users[3]!].sort());
    });

    it('adds and removes in one PATCH', async () => {
      const users = await createUsers(3);
      const gid = await createGroup([users[0]!, users[1]!]);
      const res = await patch(
        gid,
        { op: 'Add', path: 'members', value: [{ value: users[2] }] },
        { op: 'Remove', path: 'members', value: [{ value: users[0] }] },
      );
      expect(res.status).toBe(204);
      expect(await memberIds(gid)).toEqual([users[1]!, users[2]!].sort());
    });

    it('replaces the whole member list with Replace, and empties it with [] or a bare remove', async () => {
      const users = await createUsers(4);
      const gid = await createGroup([users[0]!, users[1]!]);
      expect((await patch(gid, { op: 'Replace', path: 'members', value: [{ value: users[2] }, { value: users[3] }] })).status).toBe(204);
      expect(await memberIds(gid)).toEqual([users[2]!, users[3]!].sort());
      expect((await patch(gid, { op: 'Replace', path: 'members', value: [] })).status).toBe(204);
      expect(await memberIds(gid)).toEqual([]);

      const other = await createGroup([users[0]!, users[1]!]);
      expect((await patch(other, { op: 'remove', path: 'members' })).status).toBe(204);
      expect(await memberIds(other)).toEqual([]);
    });

    it('treats removing a member that is not there as done', async () => {
      const users = await createUsers(2);
      const gid = await createGroup([users[0]!]);
      expect((await patch(gid, { op: 'Remove', path: 'members', value: [{ value: users[1] }] })).status).toBe(204);
      expect((await patch(gid, { op: 'remove', path: `members[value eq "${users[1]}"]` })).status).toBe(204);
      expect(await memberIds(gid)).toEqual([users[0]]);
    });

    it('replaces members on PUT and keeps them on a PUT without members', async () => {
      const users = await createUsers(3);
      const gid = await createGroup([users[0]!]);
      const name = `Put ${tag()}`;
      const put = await api.request('PUT', `/Groups/${gid}`, groupBody(name, { members: [{ value: users[1] }, { value: users[2] }] }));
      expect(put.status).toBe(200);
      expect(put.body.members.map((m: { value: string }) => m.value).sort()).toEqual([users[1]!, users[2]!].sort());
      const again = await api.request('PUT', `/Groups/${gid}`, groupBody(name));
      expect(again.status).toBe(200);
      expect(await memberIds(gid)).toEqual([users[1]!, users[2]!].sort());
    });
  });

  it('removes a deleted user from every group it belonged to', async () => {
    const users = await createUsers(2);
    const [leaver, stayer] = users as [string, string];
    const first = await createGroup(users);
    const second = await createGroup([leaver]);
    expect((await api.request('DELETE', `/Users/${leaver}`)).status).toBe(204);
    expect(await memberIds(first)).toEqual([stayer]);
    expect(await memberIds(second)).toEqual([]);
    const check = await api.request('GET', `/Groups?filter=${encodeURIComponent(`id eq "${first}" and members eq "${leaver}"`)}&attributes=id`);
    expect(check.body.totalResults).toBe(0);
    const stillThere = await api.request('GET', `/Groups?filter=${encodeURIComponent(`id eq "${first}" and members eq "${stayer}"`)}&attributes=id`);
    expect(stillThere.body.totalResults).toBe(1);
  });

  it('deletes a group with 204 and then answers 404', async () => {
    const [user] = await createUsers(1);
    const gid = await createGroup([user!]);
    expect((await api.request('DELETE', `/Groups/${gid}`)).status).toBe(204);
    expect((await api.request('GET', `/Groups/${gid}`)).status).toBe(404);
    expect((await patch(gid, { op: 'Add', path: 'members', value: [{ value: user }] })).status).toBe(404);
    expect((await api.request('GET', `/Users/${user}`)).status).toBe(200);
  });

  it('accepts a nested group as a member', async () => {
    const child = await createGroup();
    const parent = await createGroup();
    expect((await patch(parent, { op: 'Add', path: 'members', value: [{ value: child }] })).status).toBe(204);
    expect(await memberIds(parent)).toEqual([child]);
    expect((await patch(child, { op: 'Add', path: 'members', value: [{ value: child }] })).status).toBe(400);
  });
});
