import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { scimClient, startApiBridge, type ApiBridge } from './support.js';

/**
 * Access tokens of an external authorisation server, checked against its JWKS served by a real
 * loopback server, with keys generated here: signature, issuer, audience, expiry and scopes.
 */

const ISSUER = 'https://login.example.test/tenant/v2.0';
const AUDIENCE = 'api://scim-bridge';
let jwksServer: TestServer;
let jwks: { keys: JWK[] } = { keys: [] };
let jwksStatus = 200;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;
let b: ApiBridge;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  jwksServer = await startServer((_req, res) => {
    res.writeHead(jwksStatus, { 'content-type': 'application/json' }).end(jwksStatus === 200 ? JSON.stringify(jwks) : '<html>down</html>');
  });
  b = await startApiBridge('api-jwt', {
    connections: [
      { id: 'alpha', secrets: 0, auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: `${jwksServer.url}/keys`, requiredScopes: ['SCIM.Provision'] } } },
      { id: 'beta', secrets: 0, auth: { jwt: { issuer: ISSUER, audience: 'api://other', jwksUrl: `${jwksServer.url}/keys` } } },
    ],
  });
});
afterAll(async () => {
  await b?.close();
  await jwksServer?.close();
});

interface TokenOptions {
  iss?: string;
  aud?: string;
  exp?: number;
  claims?: Record<string, unknown>;
  key?: CryptoKey;
  kid?: string;
}

function token({ iss = ISSUER, aud = AUDIENCE, exp, claims = { roles: ['SCIM.Provision'] }, key, kid = 'k1' }: TokenOptions = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(iss)
    .setAudience(aud)
    .setSubject(randomUUID())
    .setIssuedAt()
    .setExpirationTime(exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(key ?? signingKey);
}

const call = async (connection: 'alpha' | 'beta', jwt: string) => scimClient(`${b.bridge.url}/${connection}/scim/v2`, jwt).request('GET', '/Users');

describe('external authorisation server tokens (JWKS)', () => {
  it('accepts a valid token carrying the required scope (roles, scp or scope)', async () => {
    expect((await call('alpha', await token())).status).toBe(200);
    expect((await call('alpha', await token({ claims: { scp: 'User.Read SCIM.Provision' } }))).status).toBe(200);
    expect((await call('alpha', await token({ claims: { scope: 'SCIM.Provision' } }))).status).toBe(200);
  });

  it.each([
    ['another issuer', { iss: 'https://evil.example.test/' }],
    ['another audience', { aud: 'api://someone-else' }],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }],
    ['a missing scope', { claims: { roles: ['User.Read'] } }],
  ] as [string, TokenOptions][])('refuses %s with the uniform 401', async (_name, options) => {
    const res = await call('alpha', await token(options));
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe('missing or invalid bearer token');
  });

  it('refuses a token signed by a key outside the JWKS, even with a known kid', async () => {
    expect((await call('alpha', await token({ key: strangerKey }))).status).toBe(401);
    expect((await call('alpha', await token({ key: strangerKey, kid: 'k9' }))).status).toBe(401);
  });

  it("checks each connection's own audience", async () => {
    expect((await call('beta', await token())).status).toBe(401);
    expect((await call('beta', await token({ aud: 'api://other' }))).status).toBe(200);
  });

  it('answers 503 with Retry-After when the JWKS cannot be fetched', async () => {
    // A fresh connection has not cached the key set yet, so it must fetch while the server fails.
    const cold = await startApiBridge('api-jwt-down', {
      connections: [{ id: 'gamma', secrets: 0, auth: { jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: `${jwksServer.url}/keys` } } }],
    });
    jwksStatus = 503;
    try {
      const res = await scimClient(`${cold.bridge.url}/gamma/scim/v2`, await token()).request('GET', '/Users');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('30');
    } finally {
      jwksStatus = 200;
      await cold.close();
    }
  });
});
