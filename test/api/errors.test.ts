import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { startPrivateRedis, type DemoRedis } from '../../src/lib/redis-bootstrap.js';
import {
  groupBody,
  SCHEMA_ERROR,
  SCHEMA_PATCH,
  startApiBridge,
  tag,
  userBody,
  type ApiBridge,
  type ScimClient,
  type ScimResponse,
} from './support.js';

/**
 * Every way a SCIM request can fail, over real HTTP: the status, the scimType, the
 * `application/scim+json` Error body (status as a string, no stack, no secret, no PII), and a
 * Redis outage answered with 503 + Retry-After while the process keeps serving.
 */

const CRM_MAPPING = fileURLToPath(new URL('../../mappings/widgets-crm.yaml', import.meta.url));

let b: ApiBridge;
let api: ScimClient;

beforeAll(async () => {
  b = await startApiBridge('api-errors', { connections: [{ id: 'acme' }, { id: 'crm', extra: { mapping: CRM_MAPPING } }] });
  api = b.clients.acme!;
});
afterAll(async () => {
  await b?.close();
});

/** Values a test submitted that must never come back in an error detail. */
const submitted: string[] = [];

function expectScimError(res: ScimResponse, status: number, scimType?: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(res.body.schemas).toEqual([SCHEMA_ERROR]);
  expect(res.body.status).toBe(String(status));
  if (scimType) expect(res.body.scimType).toBe(scimType);
  else expect(res.body.scimType).toBeUndefined();
  expect(Object.keys(res.body).sort()).toEqual(['detail', 'schemas', 'status', ...(scimType ? ['scimType'] : [])].sort());
  expect(typeof res.body.detail).toBe('string');
  expect(res.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  expect(res.text).not.toMatch(/stack/i);
  expect(res.text).not.toContain(b.secrets.acme![0]);
  for (const value of submitted) expect(res.text.toLowerCase()).not.toContain(value.toLowerCase());
}

/** A user name (and work email) that counts as PII for the rest of the file. */
function pii(): string {
  const value = `pii-${tag()}@example.com`;
  submitted.push(value);
  return value;
}

describe('request syntax', () => {
  it('answers invalid JSON with 400 invalidSyntax', async () => {
    expectScimError(await api.request('POST', '/Users', `{"userName": "${pii()}", `), 400, 'invalidSyntax');
    const id = (await api.request('POST', '/Users', userBody(pii()))).body.id as string;
    expectScimError(await api.request('PATCH', `/Users/${id}`, '{"Operations": [}'), 400, 'invalidSyntax');
    expectScimError(await api.request('PUT', `/Users/${id}`, 'not json'), 400, 'invalidSyntax');
  });

  it('answers invalid JSON sent as application/json or without a content type the same way', async () => {
    for (const type of ['application/json', 'text/plain']) {
      expectScimError(await api.request('POST', '/Users', '{oops', { 'content-type': type }), 400, 'invalidSyntax');
    }
  });

  it.each([
    ['an array', '[{"userName":"a@example.com"}]'],
    ['a string', '"a@example.com"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('answers a body that is %s with 400 invalidSyntax', async (_name, body) => {
    expectScimError(await api.request('POST', '/Users', body), 400, 'invalidSyntax');
    expectScimError(await api.request('POST', '/Groups', body), 400, 'invalidSyntax');
  });

  it('answers an empty POST body with 400 invalidSyntax', async () => {
    expectScimError(await api.request('POST', '/Users', ''), 400, 'invalidSyntax');
  });

  it('answers a user without userName, or a group without displayName, with 400 invalidValue', async () => {
    const { userName: _omit, ...noUserName } = userBody(pii());
    expectScimError(await api.request('POST', '/Users', noUserName), 400, 'invalidValue');
    expectScimError(await api.request('POST', '/Users', { ...noUserName, userName: '   ' }), 400, 'invalidValue');
    expectScimError(await api.request('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'] }), 400, 'invalidValue');
  });

  it("answers a work email the mapping's rules reject with 400 invalidValue, without echoing it", async () => {
    const name = `not-an-email-${tag()}`;
    submitted.push(name);
    const res = await b.clients.crm!.request('POST', '/Users', userBody(name));
    expect(res.status, res.text).toBe(400);
    expect(res.body).toMatchObject({ scimType: 'invalidValue' });
    expect(res.text).not.toContain(name);
  });

  it('accepts a userName that is not an email address with the sample mapping', async () => {
    const res = await api.request('POST', '/Users', userBody(`plain-name-${tag()}`));
    expect(res.status, res.text).toBe(201);
  });

  it('answers a PATCH without Operations, or with an unknown op, with 400 invalidSyntax', async () => {
    const id = (await api.request('POST', '/Users', userBody(pii()))).body.id as string;
    expectScimError(await api.request('PATCH', `/Users/${id}`, { schemas: [SCHEMA_PATCH] }), 400, 'invalidSyntax');
    expectScimError(await api.request('PATCH', `/Users/${id}`, { schemas: [SCHEMA_PATCH], Operations: [] }), 400, 'invalidSyntax');
    expectScimError(
      await api.request('PATCH', `/Users/${id}`, { schemas: [SCHEMA_PATCH], Operations: [{ op: 'Move', path: 'displayName', value: pii() }] }),
      400,
      'invalidSyntax',
    );
  });

  it.each([
    ['an unknown operator', 'userName zz "{pii}"'],
    ['a dangling and', 'userName eq "{pii}" and'],
    ['a missing value', 'userName eq'],
    ['an unterminated string', 'userName eq "{pii}'],
    ['a nested value filter', 'emails[type eq "work" and x[y eq "{pii}"]]'],
    ['an invalid attribute path', '"{pii}" eq userName'],
  ])('answers a filter with %s with 400 invalidFilter and does not echo its values', async (_name, template) => {
    const filter = template.replace('{pii}', pii());
    expectScimError(await api.request('GET', `/Users?filter=${encodeURIComponent(filter)}`), 400, 'invalidFilter');
  });

  it('answers a non-integer startIndex or count with 400 invalidValue', async () => {
    expectScimError(await api.request('GET', '/Users?startIndex=abc'), 400, 'invalidValue');
    expectScimError(await api.request('GET', '/Users?count=1.5'), 400, 'invalidValue');
  });
});

describe('unknown resources and routes', () => {
  const unknownId = '6b1f4c3e-0000-4000-8000-000000000000';

  it.each(['Users', 'Groups'])('answers GET, PATCH, PUT and DELETE of an unknown %s id with 404', async (segment) => {
    const body = segment === 'Users' ? userBody(pii()) : groupBody(`g-${tag()}`);
    const patch = { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', path: segment === 'Users' ? 'active' : 'displayName', value: segment === 'Users' ? false : 'x' }] };
    expectScimError(await api.request('GET', `/${segment}/${unknownId}`), 404);
    expectScimError(await api.request('PATCH', `/${segment}/${unknownId}`, patch), 404);
    expectScimError(await api.request('PUT', `/${segment}/${unknownId}`, body), 404);
    expectScimError(await api.request('DELETE', `/${segment}/${unknownId}`), 404);
  });

  it('answers an unknown route under the base path with a 404 SCIM body', async () => {
    expectScimError(await api.request('GET', '/Widgets'), 404);
    expectScimError(await api.request('GET', '/Users/a/b'), 404);
    expectScimError(await api.request('GET', '/Bulk/x'), 404);
    expectScimError(await api.request('GET', '/ResourceTypes/Widget'), 404);
    expectScimError(await api.request('GET', '/Schemas/urn:nope'), 404);
  });
});

describe('limits', () => {
  it('answers a body over 1 MB with 413', async () => {
    const big = JSON.stringify(userBody(pii(), { padding: 'x'.repeat(1_100_000) }));
    expectScimError(await api.request('POST', '/Users', big), 413);
  });

  it('accepts a body just under 1 MB', async () => {
    const body = JSON.stringify(userBody(`big-${tag()}@example.com`, { 'urn:example:big': { padding: 'x'.repeat(900_000) } }));
    expect((await api.request('POST', '/Users', body)).status).toBe(201);
  });
});

describe('uniqueness and references', () => {
  it('answers a duplicate userName, in any case, with 409 uniqueness', async () => {
    const name = pii();
    expect((await api.request('POST', '/Users', userBody(name))).status).toBe(201);
    expectScimError(await api.request('POST', '/Users', userBody(name)), 409, 'uniqueness');
    expectScimError(await api.request('POST', '/Users', userBody(name.toUpperCase())), 409, 'uniqueness');
  });

  it('accepts exactly one of 20 concurrent POSTs with the same userName or displayName', async () => {
    const name = pii();
    const users = await Promise.all(Array.from({ length: 20 }, () => api.request('POST', '/Users', userBody(name))));
    expect(users.filter((r) => r.status === 201)).toHaveLength(1);
    for (const res of users.filter((r) => r.status !== 201)) expectScimError(res, 409, 'uniqueness');
    const team = `Race ${tag()}`;
    const groups = await Promise.all(Array.from({ length: 20 }, () => api.request('POST', '/Groups', groupBody(team))));
    expect(groups.map((r) => r.status).sort()).toEqual([201, ...Array.from({ length: 19 }, () => 409)]);
  });

  it('answers a PUT or PATCH that takes another user’s userName with 409 uniqueness', async () => {
    const taken = pii();
    expect((await api.request('POST', '/Users', userBody(taken))).status).toBe(201);
    const other = await api.request('POST', '/Users', userBody(pii()));
    expectScimError(await api.request('PUT', `/Users/${other.body.id}`, userBody(taken.toUpperCase())), 409, 'uniqueness');
    expectScimError(
      await api.request('PATCH', `/Users/${other.body.id}`, { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', path: 'userName', value: taken }] }),
      409,
      'uniqueness',
    );
  });

  it('answers a duplicate group displayName with 409 uniqueness', async () => {
    const name = `Team ${tag()}`;
    submitted.push(name);
    expect((await api.request('POST', '/Groups', groupBody(name))).status).toBe(201);
    expectScimError(await api.request('POST', '/Groups', groupBody(name)), 409, 'uniqueness');
    expectScimError(await api.request('POST', '/Groups', groupBody(name.toLowerCase())), 409, 'uniqueness');
  });

  it('answers a member id that does not exist with 400 invalidValue', async () => {
    const missing = '0e9d2b7a-1111-4111-8111-111111111111';
    expectScimError(await api.request('POST', '/Groups', groupBody(`Team ${tag()}`, { members: [{ value: missing }] })), 400, 'invalidValue');
    const group = await api.request('POST', '/Groups', groupBody(`Team ${tag()}`));
    expectScimError(
      await api.request('PATCH', `/Groups/${group.body.id}`, {
        schemas: [SCHEMA_PATCH],
        Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: missing }] }],
      }),
      400,
      'invalidValue',
    );
    expect((await api.request('GET', `/Groups/${group.body.id}`)).body.members ?? []).toEqual([]);
  });
});

describe('Redis outage', () => {
  let redis: (DemoRedis & { child: ChildProcess }) | undefined;
  let down: ApiBridge | undefined;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    down = await startApiBridge('api-outage', { connections: [{ id: 'acme' }], redisUrl: redis.url });
  });
  afterAll(async () => {
    await redis?.stop();
    await down?.close();
  });

  it('answers 503 with Retry-After while Redis is gone, and keeps serving', async () => {
    const client = down!.clients.acme!;
    const before = await client.request('POST', '/Users', userBody(`before-${tag()}@example.com`));
    expect(before.status).toBe(201);

    const exited = new Promise((resolve) => redis!.child.once('exit', resolve));
    redis!.child.kill('SIGKILL');
    await exited;

    const post = await client.request('POST', '/Users', userBody(pii()));
    expectScimError(post, 503);
    expect(post.headers.get('retry-after')).toMatch(/^\d+$/);
    const get = await client.request('GET', `/Users/${before.body.id}`);
    expectScimError(get, 503);
    expect(get.headers.get('retry-after')).toMatch(/^\d+$/);
    expectScimError(await client.request('GET', '/Users?filter=userName+eq+%22x%40example.com%22'), 503);

    const root = down!.bridge.url!;
    expect((await fetch(`${root}/livez`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
    expect((await fetch(`${root}/readyz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(503);
    expect((await client.request('GET', '/ServiceProviderConfig')).status).toBe(200);
  });
});
