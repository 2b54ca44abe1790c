import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';

/**
 * `mode: proxy` with OAuth2 towards the upstream: when the upstream answers 401 to the cached
 * token (revoked, or its signing keys rotated), the bridge drops it, gets one new token and sends
 * the same request once more, body included, as delivery does. A second 401, or a 401 to a token
 * just granted, is the upstream's verdict: Entra gets the SCIM 502 "refused the bridge credentials".
 * A loopback token endpoint counts grants; a loopback upstream accepts only the tokens it is told.
 */

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface Seen {
  method: string | undefined;
  url: string | undefined;
  authorization: string | undefined;
  body: string;
}

let upstream: TestServer;
let bridge: RunningBridge;
let grants = 0;
/** Tokens the upstream accepts; `undefined` accepts the latest grant only. */
let accepted: Set<string> | undefined;
const seen: Seen[] = [];
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-proxyrenew-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  upstream = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/token') {
        grants += 1;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `tok-${grants}`, token_type: 'Bearer', expires_in: 3600 }));
        return;
      }
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
      const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
      const ok = accepted ? accepted.has(token) : token === `tok-${grants}`;
      if (!ok) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'x-refusal': 'yes', 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
        return;
      }
      const status = req.method === 'POST' ? 201 : 200;
      res.writeHead(status, { 'content-type': 'application/scim+json' }).end(
        JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: '42', userName: 'ada@example.com', echo: body ? JSON.parse(body) : null }),
      );
    });
  });
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    connections: [
      {
        id: 'renew',
        mode: 'proxy',
        auth: { bearer: [secret] },
        target: {
          baseUrl: `${upstream.url}/scim/v2`,
          timeoutMs: 3_000,
          auth: { type: 'oauth2', tokenUrl: `${upstream.url}/token`, clientId: 'bridge', clientSecret: 'up-secret' },
        },
      },
    ],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
});

afterAll(async () => {
  await bridge?.close();
  await upstream?.close();
  await dropPrefix(prefix);
});

beforeEach(() => {
  seen.length = 0;
  accepted = undefined;
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${bridge.url}/renew/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- asserted field by field
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as any };
}

describe('mode: proxy, a 401 to a cached OAuth2 token', () => {
  it('gets a new token and repeats a PATCH once, with the same (rewritten) body', async () => {
    expect((await call('GET', '/Users')).status).toBe(200);
    expect(grants).toBe(1);
    seen.length = 0;

    // The upstream revokes tok-1: only tok-2 (the next grant) is good now.
    accepted = new Set(['tok-2']);
    const patch = { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] };
    const answer = await call('PATCH', '/Users/42', patch);
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe('42');
    // The refusal's own headers never reach Entra.
    expect(answer.headers.get('www-authenticate')).toBeNull();
    expect(answer.headers.get('x-refusal')).toBeNull();
    expect(grants).toBe(2);
    expect(seen.map((s) => [s.method, s.url, s.authorization])).toEqual([
      ['PATCH', '/scim/v2/Users/42', 'Bearer tok-1'],
      ['PATCH', '/scim/v2/Users/42', 'Bearer tok-2'],
    ]);
    // The same body both times, after the rewrites (Entra's "False" became a boolean).
    expect(seen[1]!.body).toBe(seen[0]!.body);
    expect(JSON.parse(seen[1]!.body)).toEqual({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
  });

  it('repeats a POST and a DELETE the same way (a 401 means nothing was performed)', async () => {
    accepted = new Set(['tok-3']);
    const created = await call('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'ada@example.com', active: 'True' });
    expect(created.status).toBe(201);
    expect(created.body.echo).toMatchObject({ userName: 'ada@example.com', active: true });
    expect(grants).toBe(3);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer tok-2', 'Bearer tok-3']);
    expect(seen[1]!.body).toBe(seen[0]!.body);

    seen.length = 0;
    accepted = new Set(['tok-4']);
    expect((await call('DELETE', '/Users/42')).status).toBe(200);
    expect(grants).toBe(4);
    expect(seen.map((s) => [s.method, s.authorization])).toEqual([
      ['DELETE', 'Bearer tok-3'],
      ['DELETE', 'Bearer tok-4'],
    ]);
  });

  it('a second 401 is the answer: SCIM 502, one new token only, two upstream calls', async () => {
    accepted = new Set();
    const before = grants;
    const answer = await call('GET', '/Users?filter=userName%20eq%20%22ada%22');
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({ status: '502', detail: 'the upstream SCIM service refused the bridge credentials' });
    expect(answer.headers.get('www-authenticate')).toBeNull();
    expect(grants).toBe(before + 1);
    expect(seen).toHaveLength(2);
    expect(seen[0]!.url).toBe(seen[1]!.url);
    expect(seen[0]!.authorization).not.toBe(seen[1]!.authorization);
  });

  it('a 401 to a token granted for this very request is not repeated', async () => {
    // The previous test left no cached token (the refused one was dropped).
    accepted = new Set();
    const before = grants;
    const answer = await call('GET', '/Users');
    expect(answer.status).toBe(502);
    expect(grants).toBe(before + 1);
    expect(seen).toHaveLength(1);

    // And the connection recovers with the next grant once the upstream accepts it.
    accepted = undefined;
    expect((await call('GET', '/Users')).status).toBe(200);
  });
});
