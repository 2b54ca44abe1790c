import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge } from '../../src/bridge.js';
import { authKeys, createSecretStore } from '../../src/auth/secret-store.js';
import { hashSecret } from '../../src/auth/secret-hash.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { scimClient, startApiBridge, type ApiBridge } from './support.js';
import { eventuallyStatus } from '../helpers/wait.js';

/**
 * The bridge's own OAuth2 token endpoint (client credentials, RFC 6749 §4.4) over real HTTP:
 * both client authentication methods, the §5.2 error answers, scopes, and that its tokens
 * open exactly their own connection's SCIM routes.
 */

const clientSecret = randomBytes(24).toString('base64url');
const scopedSecret = randomBytes(24).toString('base64url');
let b: ApiBridge;
let redis: Redis;

beforeAll(async () => {
  b = await startApiBridge('api-oauth', {
    connections: [
      // Client secrets given as plaintext and as a sha256: hash both work.
      // A short secret cache, so the managed-secret test does not wait out the 5 s default.
      { id: 'alpha', secrets: 0, auth: { managedSecretsCacheMs: 100, oauth2: { clients: [{ id: 'entra', secret: clientSecret }] } } },
      {
        id: 'beta',
        secrets: 0,
        auth: { oauth2: { tokenPath: '/oauth/beta/token', scopes: ['scim.read', 'scim.write'], clients: [{ id: 'scoped', secret: hashSecret(scopedSecret) }] } },
      },
      {
        id: 'gamma',
        secrets: 0,
        auth: {
          oauth2: {
            failedAuthLimit: { max: 3, windowMs: 60_000 },
            clients: [
              { id: 'guessed', secret: clientSecret },
              { id: 'bystander', secret: scopedSecret },
            ],
          },
        },
      },
    ],
  });
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await b?.close();
  await redis?.quit();
});

const endpoint = (id: 'alpha' | 'beta' | 'gamma') => `${b.bridge.url}${b.config.connections.find((c) => c.id === id)!.tokenPath}`;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

interface TokenRequestOptions {
  authorization?: string;
  contentType?: string;
  connection?: 'alpha' | 'beta' | 'gamma';
}

async function tokenRequest(
  body: string | Record<string, string>,
  { authorization, contentType = 'application/x-www-form-urlencoded', connection = 'alpha' }: TokenRequestOptions = {},
) {
  const res = await fetch(endpoint(connection), {
    method: 'POST',
    headers: { 'content-type': contentType, ...(authorization ? { authorization } : {}) },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- asserted field by field
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as any };
}

function expectOAuthError(res: Awaited<ReturnType<typeof tokenRequest>>, status: number, error: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body).toEqual({ error, error_description: expect.any(String) });
  expect(res.text).not.toContain(clientSecret);
}

describe('OAuth2 token endpoint', () => {
  it('issues a Bearer token for client_secret_basic, which opens the connection', async () => {
    const res = await tokenRequest('grant_type=client_credentials', { authorization: basic('entra', clientSecret) });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
    const scim = await scimClient(`${b.bridge.url}/alpha/scim/v2`, res.body.access_token).request('GET', '/Users');
    expect(scim.status).toBe(200);
  });

  it('issues a token for client_secret_post, ignoring a scope when the connection defines none', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_id: 'entra', client_secret: clientSecret, scope: 'anything', resource: 'x' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.scope).toBeUndefined();
  });

  it("never lets one connection's token open another connection", async () => {
    const alpha = (await tokenRequest('grant_type=client_credentials', { authorization: basic('entra', clientSecret) })).body.access_token;
    const beta = (await tokenRequest('grant_type=client_credentials', { authorization: basic('scoped', scopedSecret), connection: 'beta' })).body
      .access_token;
    expect((await scimClient(`${b.bridge.url}/beta/scim/v2`, alpha).request('GET', '/Users')).status).toBe(401);
    expect((await scimClient(`${b.bridge.url}/alpha/scim/v2`, beta).request('GET', '/Users')).status).toBe(401);
    // And the other connection's client cannot get a token here.
    expectOAuthError(await tokenRequest('grant_type=client_credentials', { authorization: basic('scoped', scopedSecret) }), 401, 'invalid_client');
  });

  it('refuses expired, tampered and foreign-audience tokens', async () => {
    const key = Buffer.from((await redis.get(authKeys(b.prefix, 'alpha').signingKey))!, 'base64url');
    const sign = (claims: { exp: number; aud: string }) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).setIssuer('urn:scim-bridge:alpha').setSubject('entra').setAudience(claims.aud).setExpirationTime(claims.exp).sign(key);
    const alpha = scimClient(`${b.bridge.url}/alpha/scim/v2`, '');
    const now = Math.floor(Date.now() / 1000);
    const expired = await sign({ exp: now - 3600, aud: 'urn:scim-bridge:alpha:scim' });
    const wrongAudience = await sign({ exp: now + 3600, aud: 'urn:scim-bridge:beta:scim' });
    const good = await sign({ exp: now + 3600, aud: 'urn:scim-bridge:alpha:scim' });
    const tampered = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    for (const token of [expired, wrongAudience, tampered]) {
      expect((await alpha.request('GET', '/Users', undefined, { authorization: `Bearer ${token}` })).status).toBe(401);
    }
    expect((await alpha.request('GET', '/Users', undefined, { authorization: `Bearer ${good}` })).status).toBe(200);
  });

  it('answers wrong or missing client credentials with 401 invalid_client and a Basic challenge', async () => {
    for (const authorization of [basic('entra', 'wrong'), basic('nobody', clientSecret), 'Basic !!!', 'Basic bm9jb2xvbg==', undefined]) {
      const res = await tokenRequest('grant_type=client_credentials', { ...(authorization ? { authorization } : {}) });
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
    expectOAuthError(await tokenRequest({ grant_type: 'client_credentials', client_id: 'entra', client_secret: 'wrong' }), 401, 'invalid_client');
  });

  it('throttles a client id from one address after failedAuthLimit.max failures: 429 with Retry-After, unchecked', async () => {
    const gamma = (authorization: string) => tokenRequest('grant_type=client_credentials', { authorization, connection: 'gamma' });
    for (let i = 0; i < 3; i += 1) expectOAuthError(await gamma(basic('guessed', `guess-${i}`)), 401, 'invalid_client');
    // Even the right secret is not checked now: guessing gains nothing until the window ends.
    const throttled = await gamma(basic('guessed', clientSecret));
    expectOAuthError(throttled, 429, 'invalid_client');
    expect(throttled.body.error_description).toMatch(/^too many failed client authentications; retry in \d+ s$/);
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(throttled.headers.get('www-authenticate')).toBeNull();
    // Another client id of the connection is not affected, and successes are not counted.
    for (let i = 0; i < 4; i += 1) expect((await gamma(basic('bystander', scopedSecret))).status).toBe(200);
    // Nor is the same client id on another connection.
    expect((await tokenRequest('grant_type=client_credentials', { authorization: basic('entra', clientSecret) })).status).toBe(200);
    // The count is in Redis: a second API process on the same Redis refuses the client id too.
    const second = await startBridge(b.config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
    try {
      const path = b.config.connections.find((c) => c.id === 'gamma')!.tokenPath;
      const res = await fetch(`${second.url}${path}`, {
        method: 'POST',
        headers: { authorization: basic('guessed', clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(429);
    } finally {
      await second.close();
    }
  });

  it('answers malformed requests with 400 invalid_request', async () => {
    const auth = { authorization: basic('entra', clientSecret) };
    expectOAuthError(await tokenRequest('', auth), 400, 'invalid_request');
    expectOAuthError(await tokenRequest('{"grant_type":"client_credentials"}', { ...auth, contentType: 'application/json' }), 400, 'invalid_request');
    expectOAuthError(await tokenRequest('grant_type=client_credentials&grant_type=client_credentials', auth), 400, 'invalid_request');
    expectOAuthError(await tokenRequest(`grant_type=client_credentials&client_secret=${clientSecret}`, auth), 400, 'invalid_request');
    expectOAuthError(await tokenRequest(`grant_type=client_credentials&${'x'.repeat(20_000)}=1`, auth), 413, 'invalid_request');
  });

  it('answers another grant type with unsupported_grant_type', async () => {
    const res = await tokenRequest('grant_type=password&username=a&password=b', { authorization: basic('entra', clientSecret) });
    expectOAuthError(res, 400, 'unsupported_grant_type');
  });

  it('grants allowed scopes, all of them by default, and refuses others with invalid_scope', async () => {
    const auth = { authorization: basic('scoped', scopedSecret), connection: 'beta' as const };
    expect((await tokenRequest('grant_type=client_credentials', auth)).body.scope).toBe('scim.read scim.write');
    expect((await tokenRequest('grant_type=client_credentials&scope=scim.read', auth)).body.scope).toBe('scim.read');
    expectOAuthError(await tokenRequest('grant_type=client_credentials&scope=scim.read+admin', auth), 400, 'invalid_scope');
  });

  it('accepts managed client secrets, and keeps the client id through a rotation', async () => {
    const store = createSecretStore(redis, b.prefix, 'alpha');
    const { record, secret } = await store.create('client');
    const get = (secretValue: string) => tokenRequest('grant_type=client_credentials', { authorization: basic(record.clientId!, secretValue) });
    // The connection's cache (100 ms here) may still hold the list from before the create.
    await eventuallyStatus(() => get(secret), 200);
    const { issued } = await store.rotate('client', { clientId: record.clientId!, graceMs: 3_600_000 });
    expect(issued.record.clientId).toBe(record.clientId);
    await eventuallyStatus(() => get(issued.secret), 200);
    expect((await get(secret)).status).toBe(200);
    await store.revoke(record.clientId!);
    await eventuallyStatus(() => get(issued.secret), 401);
  });
});

