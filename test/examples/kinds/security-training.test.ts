import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_SCHEMA, patch, settle, startExampleBridge, USER_SCHEMA, type ExampleBridge } from './bridge-run.js';
import { idMaker, startFakeTarget, type FakeTarget } from './fake-target.js';

/**
 * mappings/examples/security-training.yaml (kind 4: learners, groups as teams) against a small
 * fake of such an app, through a running bridge.
 */

interface Learner { id: string; email: string; first_name?: string; last_name?: string; active: boolean }
interface Team { id: string; name: string; learners: string[] }

const TOKEN = 'training-token-0123456789';
const learners = new Map<string, Learner>();
const teams = new Map<string, Team>();
const learnerId = idMaker('l');
const teamId = idMaker('t');
let target: FakeTarget;
let bridge: ExampleBridge;

beforeAll(async () => {
  const team = (id: string) => teams.get(id);
  target = await startFakeTarget(
    [
      {
        method: 'POST',
        path: /^\/learners$/,
        handle: (r) => {
          const learner = { ...(r.body as Learner), id: learnerId() };
          learners.set(learner.id, learner);
          return { status: 201, body: { id: learner.id } };
        },
      },
      {
        method: 'PATCH',
        path: /^\/learners\/([^/]+)$/,
        handle: (r, [id]) => {
          const learner = learners.get(id!);
          if (!learner) return { status: 404 };
          Object.assign(learner, r.body);
          return { status: 200, body: learner };
        },
      },
      { method: 'DELETE', path: /^\/learners\/([^/]+)$/, handle: (_r, [id]) => ({ status: learners.delete(id!) ? 204 : 404 }) },
      { method: 'GET', path: /^\/teams$/, handle: (r) => ({ status: 200, body: [...teams.values()].filter((t) => t.name === r.query.get('name')) }) },
      {
        method: 'POST',
        path: /^\/teams$/,
        handle: (r) => {
          const { name } = r.body as Team;
          if ([...teams.values()].some((t) => t.name === name)) return { status: 409, body: { error: 'team exists' } };
          const created = { id: teamId(), name, learners: [] };
          teams.set(created.id, created);
          return { status: 201, body: { id: created.id } };
        },
      },
      { method: 'PATCH', path: /^\/teams\/([^/]+)$/, handle: (r, [id]) => (team(id!) ? (Object.assign(team(id!)!, { name: (r.body as Team).name }), { status: 200 }) : { status: 404 }) },
      { method: 'DELETE', path: /^\/teams\/([^/]+)$/, handle: (_r, [id]) => ({ status: teams.delete(id!) ? 204 : 404 }) },
      {
        method: 'PUT',
        path: /^\/teams\/([^/]+)\/learners\/([^/]+)$/,
        handle: (_r, [id, learner]) => {
          if (!team(id!) || !learners.has(learner!)) return { status: 404 };
          if (!team(id!)!.learners.includes(learner!)) team(id!)!.learners.push(learner!);
          return { status: 204 };
        },
      },
      {
        method: 'DELETE',
        path: /^\/teams\/([^/]+)\/learners\/([^/]+)$/,
        handle: (_r, [id, learner]) => {
          if (!team(id!)?.learners.includes(learner!)) return { status: 404 };
          team(id!)!.learners = team(id!)!.learners.filter((l) => l !== learner);
          return { status: 204 };
        },
      },
    ],
    (r) => r.headers.authorization === `Bearer ${TOKEN}`,
  );
  bridge = await startExampleBridge('security-training', { baseUrl: target.url, auth: { type: 'bearer', token: TOKEN } });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
});

const ok = (res: { status: number }) => res.status >= 200 && res.status < 300;
const view = () => ({
  learners: [...learners.values()].map(({ id: _id, ...l }) => l).sort((a, b) => a.email.localeCompare(b.email)),
  teams: [...teams.values()].map((t) => ({ name: t.name, learners: t.learners.map((l) => learners.get(l)?.email).sort() })).sort((a, b) => a.name.localeCompare(b.name)),
});

describe('example: security training (learners, groups as teams)', () => {
  it('links a team that already exists (409 without an id), and keeps teams and learners in step', { timeout: 60_000 }, async () => {
    teams.set('t-manual', { id: 't-manual', name: 'Phishing Champions', learners: [] });
    const ann = await bridge.scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'ann@contoso.example', active: true, name: { givenName: 'Ann', familyName: '' } });
    const bob = await bridge.scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'bob@contoso.example', active: true, name: { givenName: 'Bob', familyName: 'Ross' } });
    const champions = await bridge.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Phishing Champions', members: [{ value: ann.body.id }] });
    const everyone = await bridge.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Everyone', members: [] });
    expect([ann, bob, champions, everyone].map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(ok(await bridge.scim('PATCH', `/Groups/${everyone.body.id}`, patch({ op: 'Add', path: 'members', value: [{ value: ann.body.id }, { value: bob.body.id }] })))).toBe(true);
    const first = {
      learners: [
        { email: 'ann@contoso.example', first_name: 'Ann', active: true },
        { email: 'bob@contoso.example', first_name: 'Bob', last_name: 'Ross', active: true },
      ],
      teams: [
        { name: 'Everyone', learners: ['ann@contoso.example', 'bob@contoso.example'] },
        { name: 'Phishing Champions', learners: ['ann@contoso.example'] },
      ],
    };
    expect(await settle(view, first), (await bridge.failures()).join('\n')).toEqual(first);
    expect(teams.has('t-manual')).toBe(true);

    expect(ok(await bridge.scim('PATCH', `/Groups/${everyone.body.id}`, patch({ op: 'Remove', path: 'members', value: [{ value: bob.body.id }] })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Groups/${champions.body.id}`, patch({ op: 'Replace', path: 'displayName', value: 'Security Champions' })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Users/${bob.body.id}`, patch({ op: 'Replace', path: 'active', value: 'False' })))).toBe(true);
    expect((await bridge.scim('DELETE', `/Users/${ann.body.id}`)).status).toBe(204);
    const second = {
      learners: [{ email: 'bob@contoso.example', first_name: 'Bob', last_name: 'Ross', active: false }],
      teams: [
        { name: 'Everyone', learners: [] },
        { name: 'Security Champions', learners: [] },
      ],
    };
    expect(await settle(view, second), (await bridge.failures()).join('\n')).toEqual(second);
  });
});
