import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE, patch, settle, startExampleBridge, USER_SCHEMA, type ExampleBridge } from './bridge-run.js';
import { idMaker, startFakeTarget, type FakeTarget } from './fake-target.js';

/**
 * mappings/examples/compliance.yaml (kind 3: OAuth2 client credentials; email, name, department,
 * manager as the app's id) against a small fake of such an app and its token endpoint.
 */

interface Employee { id: string; email: string; givenName: string | null; familyName: string | null; department: string | null; managerId: string | null; suspended: boolean }

const CLIENT = { id: 'bridge-client', secret: 'compliance-secret-0123456789' };
const TOKEN = 'issued-token-abc';
const employees = new Map<string, Employee>();
const employeeId = idMaker('e');
const KEYS = ['email', 'givenName', 'familyName', 'department', 'managerId'];
let target: FakeTarget;
let bridge: ExampleBridge;

/** RFC 6749 §2.3.1: id and secret are form-encoded before the Basic encoding. */
function basicCredentials(header: string | undefined): string | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const [id = '', secret = ''] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
  const decode = (text: string) => decodeURIComponent(text.replace(/\+/g, ' '));
  return `${decode(id)}:${decode(secret)}`;
}

/** PUT semantics: every key is required (null clears); others are refused. */
function record(body: unknown): Omit<Employee, 'id' | 'suspended'> {
  const fields = body as Record<string, unknown>;
  const keys = Object.keys(fields).sort();
  if (keys.join() !== [...KEYS].sort().join()) throw new Error(`expected exactly ${KEYS.join(',')}, got ${keys.join(',')}`);
  if (fields.managerId !== null && !employees.has(String(fields.managerId))) throw new Error(`no employee ${String(fields.managerId)}`);
  return fields as Omit<Employee, 'id' | 'suspended'>;
}

beforeAll(async () => {
  target = await startFakeTarget(
    [
      {
        method: 'POST',
        path: /^\/oauth\/token$/,
        handle: (r) =>
          basicCredentials(r.headers.authorization) === `${CLIENT.id}:${CLIENT.secret}` && r.rawBody === 'grant_type=client_credentials'
            ? { status: 200, body: { access_token: TOKEN, token_type: 'Bearer', expires_in: 3600 } }
            : { status: 401, body: { error: 'invalid_client' } },
      },
      { method: 'GET', path: /^\/api\/v2\/employees$/, handle: (r) => ({ status: 200, body: { data: [...employees.values()].filter((e) => e.email === r.query.get('email')) } }) },
      {
        method: 'POST',
        path: /^\/api\/v2\/employees$/,
        handle: (r) => {
          const employee = { id: employeeId(), ...record(r.body), suspended: false };
          employees.set(employee.id, employee);
          return { status: 201, headers: { location: `/api/v2/employees/${employee.id}` } };
        },
      },
      {
        method: 'PUT',
        path: /^\/api\/v2\/employees\/([^/]+)$/,
        handle: (r, [id]) => {
          const employee = employees.get(id!);
          if (!employee) return { status: 404 };
          Object.assign(employee, record(r.body));
          return { status: 200, body: employee };
        },
      },
      ...(['suspend', 'reinstate'] as const).map((verb) => ({
        method: 'POST',
        path: new RegExp(`^/api/v2/employees/([^/]+)/${verb}$`),
        handle: (_r: unknown, [id]: string[]) => {
          const employee = employees.get(id!);
          if (!employee) return { status: 404 };
          employee.suspended = verb === 'suspend';
          return { status: 204 };
        },
      })),
      { method: 'DELETE', path: /^\/api\/v2\/employees\/([^/]+)$/, handle: (_r, [id]) => ({ status: employees.delete(id!) ? 204 : 404 }) },
    ],
    (r) => r.path === '/oauth/token' || r.headers.authorization === `Bearer ${TOKEN}`,
  );
  bridge = await startExampleBridge('compliance', {
    baseUrl: target.url,
    auth: { type: 'oauth2', tokenUrl: `${target.url}/oauth/token`, clientId: CLIENT.id, clientSecret: CLIENT.secret },
  });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
});

const ok = (res: { status: number }) => res.status >= 200 && res.status < 300;
/** Employees by email, the manager shown by email too. */
const view = () =>
  [...employees.values()]
    .map(({ id: _id, managerId, ...e }) => ({ ...e, manager: managerId === null ? null : (employees.get(managerId)?.email ?? `missing ${managerId}`) }))
    .sort((a, b) => a.email.localeCompare(b.email));

const person = (userName: string, given: string, family: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER_SCHEMA, ENTERPRISE],
  userName,
  active: true,
  name: { givenName: given, familyName: family },
  emails: [{ type: 'work', value: userName.toLowerCase(), primary: true }],
  ...extra,
});

describe('example: compliance app (OAuth2, email/name/department, manager as the app\'s id)', () => {
  it('delivers a report before its manager exists only once the manager is there, and keeps everything in step', { timeout: 60_000 }, async () => {
    // Entra sends the report first: the bridge accepts it, but the app sees it only with its manager.
    const boss = await bridge.scim('POST', '/Users', person('Nestor@contoso.example', 'Nestor', 'Wilke'));
    const ann = await bridge.scim('POST', '/Users', person('Ann@contoso.example', 'Ann', 'Lee', { [ENTERPRISE]: { department: 'Legal', manager: { value: boss.body.id } } }));
    expect([boss.status, ann.status]).toEqual([201, 201]);
    const first = [
      { email: 'ann@contoso.example', givenName: 'Ann', familyName: 'Lee', department: 'Legal', suspended: false, manager: 'nestor@contoso.example' },
      { email: 'nestor@contoso.example', givenName: 'Nestor', familyName: 'Wilke', department: null, suspended: false, manager: null },
    ];
    const seen = await settle(view, first);
    expect(seen, (await bridge.failures()).join('\n')).toEqual(first);

    // A full-replace PUT keeps the manager on every update; suspend and reinstate use their endpoints.
    expect(ok(await bridge.scim('PATCH', `/Users/${ann.body.id}`, patch({ op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Compliance' })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Users/${ann.body.id}`, patch({ op: 'Replace', path: 'active', value: 'False' })))).toBe(true);
    const second = [{ ...first[0]!, department: 'Compliance', suspended: true }, first[1]!];
    expect(await settle(view, second)).toEqual(second);
    expect(ok(await bridge.scim('PATCH', `/Users/${ann.body.id}`, patch({ op: 'Replace', path: 'active', value: 'True' })))).toBe(true);
    const third = [{ ...second[0]!, suspended: false }, first[1]!];
    expect(await settle(view, third)).toEqual(third);

    // The manager leaves: the report's managerId becomes null.
    expect((await bridge.scim('DELETE', `/Users/${boss.body.id}`)).status).toBe(204);
    const last = [{ ...third[0]!, manager: null }];
    expect(await settle(view, last)).toEqual(last);
  });
});
