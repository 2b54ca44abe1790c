import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyOutcome } from '../../src/delivery/classify.js';
import { createTargetClient, type TargetClient } from '../../src/delivery/http-client.js';
import { createTokenSource } from '../../src/delivery/oauth2-token.js';
import { BridgeError } from '../../src/lib/errors.js';
import { targetSchema } from '../../src/config/schema.js';
import { readJson, startServer, type TestServer } from '../helpers/http-server.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** The target: records every request and answers what `answer` says (default 200 + JSON). */
let target: TestServer;
const seen: Seen[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'x-Trace': 'a' }).end('{"ok":true}');
};

/** The OAuth2 token endpoint: issues t1, t2, … and records how the client authenticated. */
let tokenServer: TestServer;
const tokenRequests: Array<{ authorization?: string; form: URLSearchParams }> = [];
let tokenAnswer: ((res: ServerResponse) => boolean) | undefined;

const clients: TargetClient[] = [];

/** A client for the test target; `overrides` go through the config schema like a config file would. */
function client(overrides: Record<string, unknown> = {}): TargetClient {
  const created = createTargetClient(targetSchema.parse({ baseUrl: target.url, ...overrides }));
  clients.push(created);
  return created;
}

function oauth2(clientAuth: 'basic' | 'post', scope = 'api://legacy/.default') {
  return {
    type: 'oauth2',
    tokenUrl: `${tokenServer.url}/oauth2/token`,
    clientId: 'bridge',
    clientSecret: 's3cr:et',
    scope,
    clientAuth,
  };
}

beforeAll(async () => {
  target = await startServer((req, res) => {
    void readJson(req).then((body) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      answer(req, res);
    });
  });
  tokenServer = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      tokenRequests.push({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), form });
      if (tokenAnswer?.(res)) return;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: `t${tokenRequests.length}`, token_type: 'Bearer', expires_in: 3599 }));
    });
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  seen.length = 0;
  tokenRequests.length = 0;
  tokenAnswer = undefined;
  answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'x-Trace': 'a' }).end('{"ok":true}');
});

afterAll(async () => {
  await target.close();
  await tokenServer.close();
});

describe('createTargetClient: requests', () => {
  it('sends JSON with its content type, config headers, and returns status, headers, text and json', async () => {
    const response = await client({ headers: { 'X-Tenant': 'acme' } }).send({
      method: 'POST',
      path: '/api/v1/accounts',
      headers: { 'X-Request': 'r1' },
      body: { login: 'alice@example.com' },
    });
    expect(response).toMatchObject({ status: 200, bodyText: '{"ok":true}', json: { ok: true } });
    expect(response.headers['x-trace']).toBe('a');
    const [request] = seen;
    expect(request).toMatchObject({ method: 'POST', url: '/api/v1/accounts', body: { login: 'alice@example.com' } });
    expect(request?.headers).toMatchObject({ 'content-type': 'application/json', 'x-tenant': 'acme', 'x-request': 'r1' });
    expect(request?.headers.authorization).toBeUndefined();
  });

  it("keeps a content type the mapping names (e.g. merge-patch) instead of plain JSON", async () => {
    await client().send({
      method: 'PATCH',
      path: '/v2/people/1',
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: { state: 'suspended' },
    });
    expect(seen[0]?.headers['content-type']).toBe('application/merge-patch+json');
  });

  it('sends no content type without a body, and leaves json out when the body is not JSON', async () => {
    answer = (_req, res) => res.writeHead(404).end('not here');
    const response = await client().send({ method: 'GET', path: '/x', headers: {} });
    expect(response).toEqual({ status: 404, headers: expect.any(Object) as unknown, bodyText: 'not here' });
    expect(seen[0]?.headers['content-type']).toBeUndefined();
  });

  it('appends the path to the base path of the base URL', async () => {
    await client({ baseUrl: `${target.url}/legacy/` }).send({ method: 'GET', path: '/api/v1/accounts?login=a%40b', headers: {} });
    expect(seen[0]?.url).toBe('/legacy/api/v1/accounts?login=a%40b');
  });

  it.each([
    ['an absolute URL', 'http://evil.example/steal'],
    ['a scheme-relative URL', '//evil.example/steal'],
    ['a relative path', 'api/v1/accounts'],
    ['a dot-dot segment', '/legacy/../admin'],
    ['an encoded dot-dot segment', '/legacy/%2e%2E/admin'],
    ['a backslash', '/\\evil.example'],
    ['a fragment', '/a#b'],
  ])('refuses %s as path, before any network call', async (_label, path) => {
    const promise = client().send({ method: 'GET', path, headers: {} });
    await expect(promise).rejects.toBeInstanceOf(BridgeError);
    await expect(promise).rejects.toMatchObject({ code: 'GW_MAP_EVAL' });
    expect(seen).toHaveLength(0);
  });

  it('times out a target that does not answer; the outcome is a retryable timeout', async () => {
    answer = () => undefined;
    const error: unknown = await client({ timeoutMs: 150 })
      .send({ method: 'GET', path: '/slow', headers: {} })
      .catch((e: unknown) => e);
    expect(error).toBeDefined();
    expect(classifyOutcome({ method: 'GET', path: '/slow' }, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TIMEOUT' });
  });

  it('times out an answer whose body never ends, with the same retryable timeout', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
    };
    const error: unknown = await client({ timeoutMs: 200 })
      .send({ method: 'GET', path: '/trickle', headers: {} })
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe('TimeoutError');
    expect(classifyOutcome({ method: 'GET', path: '/trickle' }, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TIMEOUT' });
  });

  it('aborts calls in flight and calls still queued when the shutdown signal fires; later calls fail at once', async () => {
    const hung: ServerResponse[] = [];
    answer = (_req, res) => void hung.push(res);
    const shutdown = new AbortController();
    const c = createTargetClient(targetSchema.parse({ baseUrl: target.url, timeoutMs: 60_000 }), { signal: shutdown.signal, connections: 1 });
    clients.push(c);
    const inFlight = c.send({ method: 'GET', path: '/hang', headers: {} }).catch((e: unknown) => e);
    const queued = c.send({ method: 'GET', path: '/queued', headers: {} }).catch((e: unknown) => e);
    await expect.poll(() => hung.length).toBe(1);
    shutdown.abort();
    const [first, second] = await Promise.all([inFlight, queued]);
    expect((first as Error).name).toBe('AbortError');
    expect((second as Error).name).toBe('AbortError');
    expect((await c.send({ method: 'GET', path: '/after', headers: {} }).catch((e: unknown) => e)) as Error).toHaveProperty('name', 'AbortError');
    // The queued call never reached the target.
    expect(seen.map((s) => s.url)).toEqual(['/hang']);
    for (const res of hung) res.destroy();
  });

  it('answers several calls in a row on one client, headers and JSON read whole', async () => {
    const c = client();
    const a = await c.send({ method: 'GET', path: '/one', headers: {} });
    const b = await c.send({ method: 'POST', path: '/two', headers: {}, body: { x: 1 } });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json).toEqual({ ok: true });
    expect(b.headers['x-trace']).toBe('a');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /one', 'POST /two']);
  });

  it('reports a refused connection as unreachable', async () => {
    const gone = await startServer(() => undefined);
    await gone.close();
    const c = createTargetClient(targetSchema.parse({ baseUrl: gone.url }));
    clients.push(c);
    const error: unknown = await c.send({ method: 'GET', path: '/', headers: {} }).catch((e: unknown) => e);
    expect(classifyOutcome({ method: 'GET', path: '/' }, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_UNREACHABLE' });
  });
});

describe('createTargetClient: auth', () => {
  it.each([
    [{ type: 'bearer', token: 'tok' }, 'authorization', 'Bearer tok'],
    [{ type: 'basic', username: 'svc', password: 'p:w' }, 'authorization', `Basic ${Buffer.from('svc:p:w').toString('base64')}`],
    [{ type: 'apiKey', value: 'k1' }, 'x-api-key', 'k1'],
    [{ type: 'apiKey', header: 'X-Legacy-Key', value: 'k2' }, 'x-legacy-key', 'k2'],
  ])('%o sets %s', async (auth, header, value) => {
    await client({ auth }).send({ method: 'GET', path: '/', headers: {} });
    expect(seen[0]?.headers[header]).toBe(value);
  });

  it('auth wins over a mapped header of the same name', async () => {
    await client({ auth: { type: 'bearer', token: 'real' } }).send({ method: 'GET', path: '/', headers: { Authorization: 'Bearer fake' } });
    expect(seen[0]?.headers.authorization).toBe('Bearer real');
  });

  it('oauth2 with client_secret_basic: fetches one token and reuses it', async () => {
    const c = client({ auth: oauth2('basic') });
    for (let i = 0; i < 3; i += 1) await c.send({ method: 'GET', path: '/', headers: {} });
    expect(tokenRequests).toHaveLength(1);
    const [grant] = tokenRequests;
    expect(grant?.form.get('grant_type')).toBe('client_credentials');
    expect(grant?.form.get('scope')).toBe('api://legacy/.default');
    expect(grant?.form.get('client_secret')).toBeNull();
    const [id, secret] = Buffer.from((grant?.authorization ?? '').replace(/^Basic /, ''), 'base64')
      .toString('utf8')
      .split(':')
      .map(decodeURIComponent);
    expect([id, secret]).toEqual(['bridge', 's3cr:et']);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t1']);
  });

  it('oauth2 with client_secret_post sends the credentials in the form', async () => {
    await client({ auth: oauth2('post', 'legacy.write') }).send({ method: 'GET', path: '/', headers: {} });
    const [grant] = tokenRequests;
    expect(grant?.authorization).toBeUndefined();
    expect(grant?.form.get('client_id')).toBe('bridge');
    expect(grant?.form.get('client_secret')).toBe('s3cr:et');
    expect(grant?.form.get('scope')).toBe('legacy.write');
  });

  it('concurrent calls share one token request (single flight)', async () => {
    const c = client({ auth: oauth2('basic') });
    await Promise.all(Array.from({ length: 8 }, () => c.send({ method: 'GET', path: '/', headers: {} })));
    expect(tokenRequests).toHaveLength(1);
    expect(new Set(seen.map((s) => s.headers.authorization))).toEqual(new Set(['Bearer t1']));
  });

  it('drops the token on a 401 from the target, so the next call gets a fresh one', async () => {
    answer = (req, res) => res.writeHead(req.headers.authorization === 'Bearer t1' ? 401 : 200).end();
    const c = client({ auth: oauth2('basic') });
    const first = await c.send({ method: 'GET', path: '/', headers: {} });
    expect(first).toMatchObject({ status: 401, staleCredentials: true });
    expect(classifyOutcome({ method: 'GET', path: '/' }, first)).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
    const second = await c.send({ method: 'GET', path: '/', headers: {} });
    expect(second.status).toBe(200);
    expect(tokenRequests).toHaveLength(2);
  });

  it('a cached token the target refuses is replaced at once: one new grant, the call made once more', async () => {
    const revoked = new Set<string>();
    let created = 0;
    answer = (req, res) => {
      if (revoked.has(req.headers.authorization ?? '')) return res.writeHead(401).end('{"error":"invalid_token"}');
      if (req.method === 'POST') created += 1;
      return res.writeHead(201, { 'content-type': 'application/json' }).end(`{"id":"a${created}"}`);
    };
    const c = client({ auth: oauth2('basic') });
    const create = { method: 'POST', path: '/accounts', headers: {}, body: { login: 'ada' } } as const;
    expect((await c.send(create)).status).toBe(201);
    revoked.add('Bearer t1'); // e.g. the target's authorisation server rotated its keys
    const response = await c.send(create);
    expect(response).toMatchObject({ status: 201, json: { id: 'a2' } });
    expect(response.staleCredentials).toBeUndefined();
    expect(tokenRequests).toHaveLength(2);
    expect(seen.map((r) => `${r.method} ${r.headers.authorization}`)).toEqual(['POST Bearer t1', 'POST Bearer t1', 'POST Bearer t2']);
    // The refused call did nothing: two creates performed for two sends.
    expect(created).toBe(2);
    // The new token is the cached one from now on.
    await c.send(create);
    expect(tokenRequests).toHaveLength(2);
  });

  it('a fresh token refused again after the retry is classified as before (retry later with GW_DELIVERY_AUTH)', async () => {
    let refuse = false;
    answer = (_req, res) => res.writeHead(refuse ? 401 : 200).end();
    const c = client({ auth: oauth2('basic') });
    await c.send({ method: 'GET', path: '/', headers: {} });
    refuse = true;
    const response = await c.send({ method: 'GET', path: '/', headers: {} });
    expect(response).toMatchObject({ status: 401, staleCredentials: true });
    expect(classifyOutcome({ method: 'GET', path: '/' }, response)).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
    expect(tokenRequests).toHaveLength(2);
    expect(seen.map((r) => r.headers.authorization)).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t2']);
  });

  it('a token just granted and refused is not retried in the same call', async () => {
    answer = (_req, res) => res.writeHead(401).end();
    const response = await client({ auth: oauth2('basic') }).send({ method: 'GET', path: '/', headers: {} });
    expect(response).toMatchObject({ status: 401, staleCredentials: true });
    expect(tokenRequests).toHaveLength(1);
    expect(seen).toHaveLength(1);
  });

  it('a 401 without OAuth2 is a plain rejection', async () => {
    answer = (_req, res) => res.writeHead(401).end('{"error":"bad key","apiKey":"k1"}');
    const response = await client({ auth: { type: 'apiKey', value: 'k1' } }).send({ method: 'GET', path: '/', headers: {} });
    expect(response.staleCredentials).toBeUndefined();
    const verdict = classifyOutcome({ method: 'GET', path: '/' }, response);
    expect(verdict).toMatchObject({ kind: 'reject', status: 401 });
    expect(JSON.stringify(verdict)).not.toContain('k1');
  });

  it('a token endpoint refusing the client fails with GW_DELIVERY_AUTH, rejected, without the secret', async () => {
    tokenAnswer = (res) => {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      return true;
    };
    const error: unknown = await client({ auth: oauth2('post') })
      .send({ method: 'GET', path: '/', headers: {} })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GW_DELIVERY_AUTH' });
    expect(String((error as Error).message)).not.toContain('s3cr');
    expect(classifyOutcome({ method: 'GET', path: '/' }, { error })).toMatchObject({ kind: 'reject', code: 'GW_DELIVERY_AUTH' });
    expect(seen).toHaveLength(0);
  });

  it('a token endpoint answering 503 is retryable', async () => {
    tokenAnswer = (res) => {
      res.writeHead(503).end();
      return true;
    };
    const error: unknown = await client({ auth: oauth2('basic') })
      .send({ method: 'GET', path: '/', headers: {} })
      .catch((e: unknown) => e);
    expect(classifyOutcome({ method: 'GET', path: '/' }, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });

  it('refuses an http token URL that is not loopback', () => {
    expect(() => client({ auth: { ...oauth2('basic'), tokenUrl: 'http://login.example.com/token' } })).toThrow(/https/);
  });
});

describe('createTokenSource: expiry', () => {
  it('renews 60 s before expiry', async () => {
    let now = 1_000_000;
    const tokens = createTokenSource(
      { type: 'oauth2', tokenUrl: `${tokenServer.url}/t`, clientId: 'c', clientSecret: 's', clientAuth: 'basic' },
      { timeoutMs: 2_000, now: () => now },
    );
    expect(await tokens.getToken()).toBe('t1');
    now += 3_599_000 - 60_000 - 1;
    expect(await tokens.getToken()).toBe('t1');
    now += 1;
    expect(await tokens.getToken()).toBe('t2');
    tokens.invalidate('t1');
    expect(await tokens.getToken()).toBe('t2');
    tokens.invalidate('t2');
    expect(await tokens.getToken()).toBe('t3');
  });
});
