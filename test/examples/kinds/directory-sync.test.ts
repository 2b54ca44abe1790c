import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_SCHEMA, patch, settle, startExampleBridge, USER_SCHEMA, type ExampleBridge } from './bridge-run.js';
import { startFakeTarget, type FakeRequest, type FakeTarget } from './fake-target.js';

/**
 * mappings/examples/directory-sync.yaml (kind 5: a webhook target, written with the `webhook:`
 * shorthand) against a small receiver that
 * checks every signature, refuses the first delivery with a 503 (so the retry is seen) and keeps
 * the events it accepted.
 */

const SECRET = 'webhook-secret-0123456789abcdef';
const events: Array<Record<string, unknown>> = [];
let refusedOnce = false;
let badSignatures = 0;
let target: FakeTarget;
let bridge: ExampleBridge;

function signed(request: FakeRequest): boolean {
  const timestamp = String(request.headers['x-signature-timestamp'] ?? '');
  const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${request.rawBody}`).digest('hex')}`;
  const given = String(request.headers['x-signature'] ?? '');
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

beforeAll(async () => {
  target = await startFakeTarget([
    {
      method: 'POST',
      path: /^\/events$/,
      handle: (r) => {
        if (!signed(r)) {
          badSignatures += 1;
          return { status: 401 };
        }
        if (!refusedOnce) {
          refusedOnce = true;
          return { status: 503 };
        }
        events.push(r.body as Record<string, unknown>);
        return { status: 202 };
      },
    },
  ]);
  bridge = await startExampleBridge('directory-sync', { baseUrl: target.url, signing: { secret: SECRET, header: 'X-Signature' } });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
});

const ok = (res: { status: number }) => res.status >= 200 && res.status < 300;
/** Events with the bridge's ids replaced by names, in order. */
function view(names: Map<string, string>) {
  return () => events.map((event) => JSON.parse(JSON.stringify(event, (_key, value: unknown) => (typeof value === 'string' ? (names.get(value) ?? value) : value))));
}

describe('example: directory sync (webhook target)', () => {
  it('posts one signed event per change, retried after a 503, with previous values', { timeout: 60_000 }, async () => {
    const ann = await bridge.scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: 'ann@contoso.example',
      externalId: 'oid-ann',
      displayName: 'Ann Lee',
      active: true,
      emails: [{ type: 'work', value: 'ann@contoso.example', primary: true }],
    });
    expect(ann.status).toBe(201);
    const names = new Map([[ann.body.id as string, 'ANN']]);
    const created = {
      type: 'user.created',
      id: 'ANN',
      data: { userName: 'ann@contoso.example', externalId: 'oid-ann', displayName: 'Ann Lee', email: 'ann@contoso.example', department: null },
      previous: null,
    };
    expect(await settle(view(names), [created]), (await bridge.failures()).join('\n')).toEqual([created]);

    const team = await bridge.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Team', externalId: 'oid-team', members: [{ value: ann.body.id }] });
    names.set(team.body.id, 'TEAM');
    const afterGroup = [
      created,
      { type: 'group.created', id: 'TEAM', data: { displayName: 'Team', externalId: 'oid-team' } },
      { type: 'group.member_added', id: 'TEAM', member: 'ANN' },
    ];
    expect(await settle(view(names), afterGroup)).toEqual(afterGroup);

    expect(ok(await bridge.scim('PATCH', `/Users/${ann.body.id}`, patch({ op: 'Replace', path: 'displayName', value: 'Ann Lee-Smith' })))).toBe(true);
    const updated = { type: 'user.updated', id: 'ANN', data: { ...created.data, displayName: 'Ann Lee-Smith' }, previous: created.data };
    expect(await settle(view(names), [...afterGroup, updated])).toEqual([...afterGroup, updated]);

    expect(ok(await bridge.scim('PATCH', `/Users/${ann.body.id}`, patch({ op: 'Replace', path: 'active', value: 'False' })))).toBe(true);
    const deactivated = { type: 'user.deactivated', id: 'ANN', data: updated.data, previous: updated.data };
    expect(await settle(view(names), [...afterGroup, updated, deactivated])).toEqual([...afterGroup, updated, deactivated]);

    expect((await bridge.scim('DELETE', `/Groups/${team.body.id}`)).status).toBe(204);
    const all = [...afterGroup, updated, deactivated, { type: 'group.deleted', id: 'TEAM', data: { displayName: 'Team', externalId: 'oid-team' } }];
    expect(await settle(view(names), all)).toEqual(all);
    expect(refusedOnce).toBe(true);
    expect(badSignatures).toBe(0);
  });
});
