import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningFakeApi } from '../../examples/sample-legacy-api/listen.js';
import type { LoggedRequest } from '../../examples/sample-legacy-api/test-controls.js';
import { startWidgetsCrm } from '../../examples/widgets-crm/app.js';
import type { Person } from '../../examples/widgets-crm/people.js';
import { createFakeApiClient } from './fake-api-client.js';
import { runFakeApiProcess, startFakeApiProcess } from './fake-api-process.js';

const API_KEY = 'widgets-test-key';

let api: RunningFakeApi;
let call: ReturnType<typeof createFakeApiClient>;

beforeAll(async () => {
  api = await startWidgetsCrm({ apiKey: API_KEY });
  call = createFakeApiClient(api.url, { 'x-api-key': API_KEY });
});

afterAll(async () => {
  await api.close();
});

beforeEach(async () => {
  await call('DELETE', '/_faults');
  await call('DELETE', '/_requests');
});

let counter = 0;
const uniqueUsername = (name = 'person') => `${name}${++counter}@widgets.example`;

/** Creates a person and follows the Location header, the only way the CRM tells its new id. */
async function createPerson(body: Record<string, unknown> = {}): Promise<Person> {
  const created = await call('POST', '/v2/people', { body: { username: uniqueUsername(), ...body } });
  expect(created.status).toBe(201);
  const location = created.headers.get('location');
  expect(location).toMatch(/^\/v2\/people\/[0-9a-f-]{36}$/);
  const fetched = await call('GET', location ?? '');
  expect(fetched.status).toBe(200);
  return fetched.body as Person;
}

describe('authentication', () => {
  it('answers /healthz without a key', async () => {
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { 'x-api-key': 'nope' }],
    ['the key as a bearer token', { authorization: `Bearer ${API_KEY}` }],
  ])('rejects %s with 401', async (_label, headers) => {
    const response = await fetch(`${api.url}/v2/people`, { headers });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'unauthorized' });
  });

  it('protects the test controls too', async () => {
    expect((await fetch(`${api.url}/_requests`)).status).toBe(401);
  });
});

describe('people', () => {
  it('creates with 201, an empty body and a Location header', async () => {
    const username = uniqueUsername('create');
    const created = await call('POST', '/v2/people', {
      body: { username, profile: { givenName: 'Ada', familyName: 'Lovelace' }, contact: { email: username } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toBeUndefined();
    const location = created.headers.get('location') ?? '';
    const person = (await call('GET', location)).body;
    expect(person).toEqual({
      id: location.split('/').at(-1),
      username,
      externalKey: null,
      state: 'active',
      profile: { givenName: 'Ada', familyName: 'Lovelace', displayName: null, jobTitle: null },
      contact: { email: username, phone: null },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  it('merges a partial PATCH into nested objects; null clears a field', async () => {
    const person = await createPerson({
      externalKey: 'obj-1',
      profile: { givenName: 'Grace', familyName: 'Hopper', jobTitle: 'Admiral' },
      contact: { email: 'grace@widgets.example', phone: '+1 555 0100' },
    });

    const patched = await call('PATCH', `/v2/people/${person.id}`, { body: { profile: { givenName: 'Amazing Grace', jobTitle: null } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({
      ...person,
      profile: { givenName: 'Amazing Grace', familyName: 'Hopper', displayName: null, jobTitle: null },
      updatedAt: expect.any(String),
    });
    expect((await call('GET', `/v2/people/${person.id}`)).body).toEqual(patched.body);
  });

  it('accepts application/merge-patch+json for PATCH', async () => {
    const person = await createPerson();
    const patched = await call('PATCH', `/v2/people/${person.id}`, {
      rawBody: JSON.stringify({ contact: { phone: '+44 20 7946 0000' } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(patched).toMatchObject({ status: 200, body: { contact: { phone: '+44 20 7946 0000' } } });
  });

  it('suspends and reactivates through the state field', async () => {
    const person = await createPerson();
    const suspended = await call('PATCH', `/v2/people/${person.id}`, { body: { state: 'suspended' } });
    expect(suspended.body).toMatchObject({ state: 'suspended', username: person.username });
    const active = await call('PATCH', `/v2/people/${person.id}`, { body: { state: 'active' } });
    expect(active.body).toMatchObject({ state: 'active' });
    expect(await call('PATCH', `/v2/people/${person.id}`, { body: { state: 'disabled' } })).toMatchObject({
      status: 422,
      body: { code: 'validation_failed', errors: [{ path: 'state' }] },
    });
  });

  it('keeps usernames unique regardless of case and finds them regardless of case', async () => {
    const person = await createPerson({ username: uniqueUsername('Unique.Person') });
    expect(await call('POST', '/v2/people', { body: { username: person.username.toUpperCase() } })).toMatchObject({
      status: 409,
      body: { code: 'conflict' },
    });
    const other = await createPerson();
    expect((await call('PATCH', `/v2/people/${other.id}`, { body: { username: person.username.toLowerCase() } })).status).toBe(409);
    expect((await call('PATCH', `/v2/people/${person.id}`, { body: { username: person.username.toUpperCase() } })).status).toBe(200);

    const found = await call('GET', `/v2/people?username=${encodeURIComponent(person.username.toLowerCase())}`);
    expect(found).toMatchObject({ status: 200, body: { items: [{ id: person.id }], total: 1 } });
    const missing = await call('GET', `/v2/people?username=${encodeURIComponent(uniqueUsername('nobody'))}`);
    expect(missing.body).toEqual({ items: [], total: 0 });
  });

  it('lists everyone without a filter', async () => {
    const person = await createPerson();
    const list = await call('GET', '/v2/people');
    expect((list.body as { items: Person[] }).items).toContainEqual(person);
  });

  it('deletes with 204 and then answers 404', async () => {
    const person = await createPerson();
    expect((await call('DELETE', `/v2/people/${person.id}`)).status).toBe(204);
    expect(await call('GET', `/v2/people/${person.id}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect((await call('PATCH', `/v2/people/${person.id}`, { body: { state: 'active' } })).status).toBe(404);
    expect((await call('DELETE', `/v2/people/${person.id}`)).status).toBe(404);
    expect((await call('POST', '/v2/people', { body: { username: person.username } })).status).toBe(201);
  });

  it('reports every validation problem with 422 and a dotted path', async () => {
    const response = await call('POST', '/v2/people', {
      body: { profile: { nickname: 'Ada', givenName: 7 }, contact: { email: 'not-an-email' }, firstName: 'Ada' },
    });
    expect(response.status).toBe(422);
    const { errors } = response.body as { errors: { path: string; reason: string }[] };
    expect(errors.map((error) => error.path).sort()).toEqual(['contact.email', 'firstName', 'profile.givenName', 'profile.nickname', 'username']);
    expect(errors).toContainEqual({ path: 'profile.nickname', reason: 'unknown field' });
  });

  it('rejects unknown query parameters with 422', async () => {
    expect(await call('GET', '/v2/people?email=a@widgets.example')).toMatchObject({
      status: 422,
      body: { errors: [{ path: 'email', reason: 'unknown field' }] },
    });
  });

  it('has no groups', async () => {
    expect(await call('POST', '/v2/groups', { body: { name: 'Team' } })).toMatchObject({ status: 404, body: { code: 'not_found' } });
  });
});

describe('faults and request log', () => {
  it('fails matching requests with the injected status and Retry-After, logging what was sent', async () => {
    const person = await createPerson();
    await call('DELETE', '/_requests');
    await call('POST', '/_faults', { body: { status: 429, times: 1, retryAfter: 2, match: 'PATCH /v2/people/:id' } });

    const throttled = await call('PATCH', `/v2/people/${person.id}`, { body: { state: 'suspended' } });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect((await call('GET', `/v2/people/${person.id}`)).body).toMatchObject({ state: 'active' });
    expect((await call('PATCH', `/v2/people/${person.id}`, { body: { state: 'suspended' } })).status).toBe(200);

    const requests = ((await call('GET', '/_requests')).body as { requests: LoggedRequest[] }).requests;
    expect(requests.map(({ method, path, body, status }) => ({ method, path, body, status }))).toEqual([
      { method: 'PATCH', path: `/v2/people/${person.id}`, body: { state: 'suspended' }, status: 429 },
      { method: 'GET', path: `/v2/people/${person.id}`, body: undefined, status: 200 },
      { method: 'PATCH', path: `/v2/people/${person.id}`, body: { state: 'suspended' }, status: 200 },
    ]);
    expect(requests[0]?.headers['x-api-key']).toBe('[redacted]');
  });
});

describe('standalone process', () => {
  const script = 'examples/widgets-crm/server.ts';

  it('reads WIDGETS_API_KEY and PORT, prints its URL and serves until SIGTERM', async () => {
    const server = await startFakeApiProcess(script, { WIDGETS_API_KEY: 'process-key', PORT: '0' });
    try {
      expect((await fetch(`${server.url}/v2/people`)).status).toBe(401);
      const authorised = await fetch(`${server.url}/v2/people`, { headers: { 'x-api-key': 'process-key' } });
      expect(await authorised.json()).toEqual({ items: [], total: 0 });
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('refuses to start without a key', async () => {
    const env = { ...process.env };
    delete env.WIDGETS_API_KEY;
    expect(await runFakeApiProcess(script, env)).toBe(2);
  });
});
