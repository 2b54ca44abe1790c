import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSampleLegacyApi } from '../../examples/sample-legacy-api/app.js';
import type { RunningFakeApi } from '../../examples/sample-legacy-api/listen.js';
import type { LoggedRequest } from '../../examples/sample-legacy-api/test-controls.js';
import { createFakeApiClient } from './fake-api-client.js';
import { runFakeApiProcess, startFakeApiProcess } from './fake-api-process.js';

const TOKEN = 'sample-test-token';

let api: RunningFakeApi;
let call: ReturnType<typeof createFakeApiClient>;

beforeAll(async () => {
  api = await startSampleLegacyApi({ token: TOKEN });
  call = createFakeApiClient(api.url, { authorization: `Bearer ${TOKEN}` });
});

afterAll(async () => {
  await api.close();
});

beforeEach(async () => {
  await call('DELETE', '/_faults');
  await call('DELETE', '/_requests');
});

let loginCounter = 0;
const uniqueLogin = (name = 'user') => `${name}${++loginCounter}@example.com`;

async function createAccount(fields: Record<string, unknown> = {}): Promise<string> {
  const response = await call('POST', '/api/v1/accounts', { body: { login: uniqueLogin(), ...fields } });
  expect(response.status).toBe(201);
  return (response.body as { data: { account_id: string } }).data.account_id;
}

async function createTeam(name: string): Promise<string> {
  const response = await call('POST', '/api/v1/teams', { body: { name } });
  expect(response.status).toBe(201);
  return (response.body as { data: { team_id: string } }).data.team_id;
}

describe('authentication', () => {
  it('answers /healthz without a token', async () => {
    const response = await fetch(`${api.url}/healthz`);
    expect(response.status).toBe(200);
  });

  it.each([
    ['no header', {}],
    ['a wrong token', { authorization: 'Bearer nope' }],
    ['a token prefix', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['another scheme', { authorization: `Basic ${TOKEN}` }],
  ])('rejects %s with 401', async (_label, headers) => {
    const response = await fetch(`${api.url}/api/v1/accounts`, { headers });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'unauthorized' });
  });

  it('also protects unknown routes and the test controls', async () => {
    expect((await fetch(`${api.url}/nowhere`)).status).toBe(401);
    expect((await fetch(`${api.url}/_requests`)).status).toBe(401);
    expect((await fetch(`${api.url}/_faults`, { method: 'DELETE' })).status).toBe(401);
  });

  it('accepts the scheme name in any case', async () => {
    const response = await fetch(`${api.url}/api/v1/accounts`, { headers: { authorization: `bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
  });
});

describe('accounts', () => {
  it('creates, reads, lists, replaces and deletes an account', async () => {
    const login = uniqueLogin('crud');
    const created = await call('POST', '/api/v1/accounts', {
      body: { login, email: login, first_name: 'Ada', last_name: 'Lovelace', department: 'R&D', display_name: 'Ada Lovelace' },
    });
    expect(created.status).toBe(201);
    const account = (created.body as { data: { account_id: string } }).data;
    expect(account).toEqual({
      account_id: expect.stringMatching(/^acc_\d+$/),
      login,
      email: login,
      first_name: 'Ada',
      last_name: 'Lovelace',
      department: 'R&D',
      display_name: 'Ada Lovelace',
      status: 'ENABLED',
    });
    const id = account.account_id;

    expect(await call('GET', `/api/v1/accounts/${id}`)).toMatchObject({ status: 200, body: { data: account } });
    const list = await call('GET', '/api/v1/accounts');
    expect((list.body as { data: unknown[] }).data).toContainEqual(account);

    const replaced = await call('PUT', `/api/v1/accounts/${id}`, { body: { login, first_name: 'Augusta' } });
    expect(replaced).toMatchObject({
      status: 200,
      body: {
        data: { account_id: id, login, email: null, first_name: 'Augusta', last_name: null, department: null, display_name: null, status: 'ENABLED' },
      },
    });

    expect((await call('DELETE', `/api/v1/accounts/${id}`)).status).toBe(204);
    expect(await call('GET', `/api/v1/accounts/${id}`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect((await call('DELETE', `/api/v1/accounts/${id}`)).status).toBe(404);
    expect((await call('PUT', `/api/v1/accounts/${id}`, { body: { login } })).status).toBe(404);
  });

  it('stores absent optional fields as null and accepts explicit nulls', async () => {
    const login = uniqueLogin('nulls');
    const response = await call('POST', '/api/v1/accounts', { body: { login, email: null, last_name: '' } });
    expect(response.body).toEqual({
      data: expect.objectContaining({ login, email: null, first_name: null, last_name: '', department: null, display_name: null }),
    });
  });

  it('keeps logins unique regardless of case, and finds them regardless of case', async () => {
    const login = uniqueLogin('Grace.Hopper');
    const id = await createAccount({ login });

    const duplicate = await call('POST', '/api/v1/accounts', { body: { login: login.toUpperCase() } });
    expect(duplicate).toMatchObject({ status: 409, body: { error: 'login_taken' } });

    const found = await call('GET', `/api/v1/accounts?login=${encodeURIComponent(login.toLowerCase())}`);
    expect(found).toMatchObject({ status: 200, body: { data: [{ account_id: id, login }] } });
    expect((found.body as { data: unknown[] }).data).toHaveLength(1);

    const missing = await call('GET', `/api/v1/accounts?login=${encodeURIComponent(uniqueLogin('nobody'))}`);
    expect(missing).toMatchObject({ status: 200, body: { data: [] } });

    const partial = await call('GET', `/api/v1/accounts?login=${encodeURIComponent(login.slice(1))}`);
    expect(partial.body).toEqual({ data: [] });
  });

  it('refuses to rename an account onto another login, but allows a change of case of its own', async () => {
    const taken = uniqueLogin('taken');
    await createAccount({ login: taken });
    const own = uniqueLogin('own');
    const id = await createAccount({ login: own });

    const clash = await call('PUT', `/api/v1/accounts/${id}`, { body: { login: taken.toUpperCase() } });
    expect(clash).toMatchObject({ status: 409, body: { error: 'login_taken' } });

    const recased = await call('PUT', `/api/v1/accounts/${id}`, { body: { login: own.toUpperCase() } });
    expect(recased).toMatchObject({ status: 200, body: { data: { login: own.toUpperCase() } } });
    const found = await call('GET', `/api/v1/accounts?login=${encodeURIComponent(own)}`);
    expect(found.body).toMatchObject({ data: [{ account_id: id }] });
  });

  it('frees the old login after a rename or a delete', async () => {
    const first = uniqueLogin('first');
    const id = await createAccount({ login: first });
    await call('PUT', `/api/v1/accounts/${id}`, { body: { login: uniqueLogin('second') } });
    expect((await call('POST', '/api/v1/accounts', { body: { login: first } })).status).toBe(201);

    const third = uniqueLogin('third');
    const other = await createAccount({ login: third });
    await call('DELETE', `/api/v1/accounts/${other}`);
    expect((await call('POST', '/api/v1/accounts', { body: { login: third } })).status).toBe(201);
  });

  it('disables and enables an account; a replace leaves the status alone', async () => {
    const login = uniqueLogin('status');
    const id = await createAccount({ login });

    expect((await call('POST', `/api/v1/accounts/${id}/disable`)).status).toBe(204);
    expect((await call('GET', `/api/v1/accounts/${id}`)).body).toMatchObject({ data: { status: 'DISABLED' } });

    const replaced = await call('PUT', `/api/v1/accounts/${id}`, { body: { login, department: 'Ops' } });
    expect(replaced.body).toMatchObject({ data: { status: 'DISABLED', department: 'Ops' } });

    expect((await call('POST', `/api/v1/accounts/${id}/enable`)).status).toBe(204);
    expect((await call('GET', `/api/v1/accounts/${id}`)).body).toMatchObject({ data: { status: 'ENABLED' } });

    expect((await call('POST', '/api/v1/accounts/acc_999999/disable')).status).toBe(404);
    expect((await call('POST', '/api/v1/accounts/acc_999999/enable')).status).toBe(404);
  });

  it('accepts any non-empty login, not only email addresses (SCIM suites send plain user names)', async () => {
    await createAccount({ login: `plain-user-${++loginCounter}` });
  });

  it('accepts a body-less POST that still says Content-Type: application/json', async () => {
    const id = await createAccount();
    const response = await call('POST', `/api/v1/accounts/${id}/disable`, { headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(204);
  });

  it.each([
    ['an unknown field', { login: 'x@example.com', firstName: 'Ada' }, { error: 'unknown_field', field: 'firstName' }],
    ['an unknown field next to a bad login', { login: 'nope', nickname: 'A' }, { error: 'unknown_field', field: 'nickname' }],
    ['an empty login', { login: '' }, { error: 'invalid_login', field: 'login' }],
    ['a missing login', { email: 'ada@example.com' }, { error: 'invalid_login', field: 'login' }],
    ['a non-string field', { login: 'x@example.com', email: 42 }, { error: 'invalid_email', field: 'email' }],
    ['a body that is not an object', ['login'], { error: 'invalid_body' }],
  ])('rejects %s with 400', async (_label, body, expected) => {
    const created = await call('POST', '/api/v1/accounts', { body });
    expect(created).toMatchObject({ status: 400, body: expected });
    const id = await createAccount();
    const replaced = await call('PUT', `/api/v1/accounts/${id}`, { body });
    expect(replaced).toMatchObject({ status: 400, body: expected });
  });

  it('rejects malformed JSON and unknown query parameters with 400', async () => {
    const malformed = await call('POST', '/api/v1/accounts', { rawBody: '{"login":' });
    expect(malformed).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    const query = await call('GET', '/api/v1/accounts?email=a@example.com');
    expect(query).toMatchObject({ status: 400, body: { error: 'unknown_field', field: 'email' } });
  });
});

describe('teams', () => {
  it('creates, reads, lists, replaces and deletes a team', async () => {
    const created = await call('POST', '/api/v1/teams', { body: { name: 'Team CRUD', external_ref: 'ext-1' } });
    expect(created.status).toBe(201);
    const team = (created.body as { data: { team_id: string } }).data;
    expect(team).toEqual({ team_id: expect.stringMatching(/^team_\d+$/), name: 'Team CRUD', external_ref: 'ext-1', members: [] });
    const id = team.team_id;

    expect(await call('GET', `/api/v1/teams/${id}`)).toMatchObject({ status: 200, body: { data: team } });
    expect((await call('GET', '/api/v1/teams')).body).toMatchObject({ data: expect.arrayContaining([team]) });

    const replaced = await call('PUT', `/api/v1/teams/${id}`, { body: { name: 'Team CRUD renamed' } });
    expect(replaced).toMatchObject({ status: 200, body: { data: { team_id: id, name: 'Team CRUD renamed', external_ref: null, members: [] } } });

    expect((await call('DELETE', `/api/v1/teams/${id}`)).status).toBe(204);
    expect(await call('GET', `/api/v1/teams/${id}`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect((await call('DELETE', `/api/v1/teams/${id}`)).status).toBe(404);
    expect((await call('PUT', `/api/v1/teams/${id}`, { body: { name: 'x' } })).status).toBe(404);
  });

  it('keeps team names unique regardless of case', async () => {
    await createTeam('Unique Team');
    expect(await call('POST', '/api/v1/teams', { body: { name: 'unique team' } })).toMatchObject({
      status: 409,
      body: { error: 'name_taken' },
    });
    const other = await createTeam('Other Team');
    expect((await call('PUT', `/api/v1/teams/${other}`, { body: { name: 'UNIQUE TEAM' } })).status).toBe(409);
  });

  it('validates team bodies like account bodies', async () => {
    expect(await call('POST', '/api/v1/teams', { body: { name: 'T', displayName: 'T' } })).toMatchObject({
      status: 400,
      body: { error: 'unknown_field', field: 'displayName' },
    });
    expect(await call('POST', '/api/v1/teams', { body: { external_ref: 'x' } })).toMatchObject({
      status: 400,
      body: { error: 'invalid_name' },
    });
  });

  it('adds members idempotently and removes them', async () => {
    const teamId = await createTeam('Members Team');
    const first = await createAccount();
    const second = await createAccount();

    for (const accountId of [first, second, first]) {
      expect((await call('PUT', `/api/v1/teams/${teamId}/members/${accountId}`)).status).toBe(204);
    }
    expect((await call('GET', `/api/v1/teams/${teamId}`)).body).toMatchObject({ data: { members: [first, second] } });

    expect((await call('DELETE', `/api/v1/teams/${teamId}/members/${first}`)).status).toBe(204);
    expect((await call('GET', `/api/v1/teams/${teamId}`)).body).toMatchObject({ data: { members: [second] } });
    expect(await call('DELETE', `/api/v1/teams/${teamId}/members/${first}`)).toMatchObject({
      status: 404,
      body: { error: 'not_member' },
    });

    const replaced = await call('PUT', `/api/v1/teams/${teamId}`, { body: { name: 'Members Team 2' } });
    expect(replaced.body).toMatchObject({ data: { members: [second] } });
  });

  it('answers 404 for a membership with an unknown team or account', async () => {
    const teamId = await createTeam('Strict Team');
    const accountId = await createAccount();
    expect((await call('PUT', `/api/v1/teams/${teamId}/members/acc_999999`)).status).toBe(404);
    expect((await call('PUT', `/api/v1/teams/team_999999/members/${accountId}`)).status).toBe(404);
    expect((await call('DELETE', `/api/v1/teams/team_999999/members/${accountId}`)).status).toBe(404);
  });

  it('removes a deleted account from every team', async () => {
    const red = await createTeam('Red');
    const blue = await createTeam('Blue');
    const leaving = await createAccount();
    const staying = await createAccount();
    for (const team of [red, blue]) {
      for (const account of [leaving, staying]) await call('PUT', `/api/v1/teams/${team}/members/${account}`);
    }

    expect((await call('DELETE', `/api/v1/accounts/${leaving}`)).status).toBe(204);

    for (const team of [red, blue]) {
      expect((await call('GET', `/api/v1/teams/${team}`)).body).toMatchObject({ data: { members: [staying] } });
    }
  });
});

describe('fault injection', () => {
  it('fails the next N matching requests with the status and Retry-After given', async () => {
    const injected = await call('POST', '/_faults', { body: { status: 503, times: 2, retryAfter: 1, match: 'POST /api/v1/accounts' } });
    expect(injected.status).toBe(204);

    expect((await call('GET', '/api/v1/accounts')).status).toBe(200);
    const login = uniqueLogin('faulty');
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const failed = await call('POST', '/api/v1/accounts', { body: { login } });
      expect(failed.status).toBe(503);
      expect(failed.headers.get('retry-after')).toBe('1');
      expect(failed.body).toEqual({ error: 'injected_fault', status: 503 });
    }
    expect((await call('POST', '/api/v1/accounts', { body: { login } })).status).toBe(201);
    expect((await call('GET', '/_faults')).body).toEqual({ faults: [] });
  });

  it('does not apply the failed requests', async () => {
    const login = uniqueLogin('not-applied');
    await call('POST', '/_faults', { body: { status: 500, match: 'POST /api/v1/accounts' } });
    expect((await call('POST', '/api/v1/accounts', { body: { login } })).status).toBe(500);
    expect((await call('GET', `/api/v1/accounts?login=${encodeURIComponent(login)}`)).body).toEqual({ data: [] });
  });

  it('matches by route pattern, by method alone, or any request', async () => {
    const id = await createAccount();
    await call('POST', '/_faults', { body: { status: 429, retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT', match: 'PUT /api/v1/accounts/:id' } });
    await call('POST', '/_faults', { body: { status: 502, match: 'DELETE' } });
    await call('POST', '/_faults', { body: { status: 504 } });

    const throttled = await call('PUT', `/api/v1/accounts/${id}`, { body: { login: uniqueLogin() } });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
    expect((await call('DELETE', `/api/v1/accounts/${id}`)).status).toBe(502);
    expect((await call('GET', `/api/v1/accounts/${id}`)).status).toBe(504);
    expect((await call('GET', `/api/v1/accounts/${id}`)).status).toBe(200);
  });

  it('matches a literal path with its query string', async () => {
    const login = uniqueLogin('lookup');
    const path = `/api/v1/accounts?login=${encodeURIComponent(login)}`;
    await call('POST', '/_faults', { body: { status: 503, match: `GET ${path}` } });
    expect((await call('GET', '/api/v1/accounts')).status).toBe(200);
    expect((await call('GET', path)).status).toBe(503);
    expect((await call('GET', path)).status).toBe(200);
  });

  it('lists pending faults and clears them', async () => {
    await call('POST', '/_faults', { body: { status: 503, times: 3, match: 'post /api/v1/teams' } });
    expect((await call('GET', '/_faults')).body).toEqual({ faults: [{ status: 503, times: 3, match: 'post /api/v1/teams' }] });
    expect((await call('DELETE', '/_faults')).status).toBe(204);
    expect((await call('GET', '/_faults')).body).toEqual({ faults: [] });
    expect((await call('POST', '/api/v1/teams', { body: { name: 'After faults' } })).status).toBe(201);
  });

  it('never fails /healthz or unauthenticated requests', async () => {
    await call('POST', '/_faults', { body: { status: 503 } });
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${api.url}/api/v1/accounts`)).status).toBe(401);
    expect((await call('GET', '/_faults')).body).toMatchObject({ faults: [{ status: 503, times: 1 }] });
  });

  it.each([
    [{ status: 200 }],
    [{ status: 503, times: 0 }],
    [{ status: 503, match: 'POST api/v1/accounts' }],
    [{ status: 503, when: 'always' }],
  ])('rejects an invalid fault %j with 400', async (body) => {
    expect(await call('POST', '/_faults', { body })).toMatchObject({ status: 400, body: { error: 'invalid_fault' } });
  });
});

describe('request log', () => {
  it('records method, path with query, body and status of every request, secrets redacted', async () => {
    const login = uniqueLogin('logged');
    await call('POST', '/_faults', { body: { status: 503, match: 'POST /api/v1/accounts' } });
    await call('POST', '/api/v1/accounts', { body: { login } });
    await call('POST', '/api/v1/accounts', { body: { login } });
    await call('GET', `/api/v1/accounts?login=${encodeURIComponent(login)}`);
    await fetch(`${api.url}/api/v1/teams`, { headers: { authorization: 'Bearer wrong' } });
    await fetch(`${api.url}/healthz`);

    const log = await call('GET', '/_requests');
    const requests = (log.body as { requests: LoggedRequest[] }).requests;
    expect(requests.map(({ method, path, body, status }) => ({ method, path, body, status }))).toEqual([
      { method: 'POST', path: '/api/v1/accounts', body: { login }, status: 503 },
      { method: 'POST', path: '/api/v1/accounts', body: { login }, status: 201 },
      { method: 'GET', path: `/api/v1/accounts?login=${encodeURIComponent(login)}`, body: undefined, status: 200 },
      { method: 'GET', path: '/api/v1/teams', body: undefined, status: 401 },
    ]);
    expect(requests[0]?.headers).toMatchObject({ authorization: '[redacted]', 'content-type': 'application/json' });
  });

  it('is cleared by DELETE /_requests', async () => {
    await call('GET', '/api/v1/teams');
    expect((await call('DELETE', '/_requests')).status).toBe(204);
    expect((await call('GET', '/_requests')).body).toEqual({ requests: [] });
  });
});

describe('standalone process', () => {
  const script = 'examples/sample-legacy-api/server.ts';

  it('reads LEGACY_API_TOKEN and PORT, prints its URL and serves until SIGTERM', async () => {
    const server = await startFakeApiProcess(script, { LEGACY_API_TOKEN: 'process-token', PORT: '0' });
    try {
      expect((await fetch(`${server.url}/api/v1/accounts`)).status).toBe(401);
      const authorised = await fetch(`${server.url}/api/v1/accounts`, { headers: { authorization: 'Bearer process-token' } });
      expect(await authorised.json()).toEqual({ data: [] });
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('refuses to start without a token', async () => {
    const env = { ...process.env };
    delete env.LEGACY_API_TOKEN;
    expect(await runFakeApiProcess(script, env)).toBe(2);
  });
});
