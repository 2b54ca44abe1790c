import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { silentLogger } from '../../src/delivery/logger.js';
import { eventually } from '../helpers/bridge.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { makeTestPki, startMtlsServer, type TestHttpsServer, type TestPki } from '../helpers/tls-certs.js';

/**
 * A `mode: proxy` connection whose upstream SCIM service demands a client certificate: the
 * connection's target.tls is presented on every forwarded request (and to the OAuth2 token
 * endpoint); without it Entra gets a SCIM 502 naming a TLS failure, not a crash or a hang.
 */

let pki: TestPki;
let upstream: TestHttpsServer;
let bridge: RunningBridge;
const seen: Array<{ cn: string | undefined; authorization: string | undefined; url: string | undefined }> = [];
const tokenRequests: Array<string | undefined> = [];
/** Answers of the upstream to PATCH /scim/v2/Users/b1, in turn (then 200). */
const patchAnswers = [503];
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-proxymtls-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  pki = makeTestPki();
  upstream = await startMtlsServer(pki, (req, res, cn) => {
    req.resume();
    if (req.url === '/token') {
      tokenRequests.push(cn);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'up-token', token_type: 'Bearer', expires_in: 3600 }));
      return;
    }
    seen.push({ cn, authorization: req.headers.authorization, url: req.url });
    if (req.method === 'PATCH') {
      const status = patchAnswers.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/scim+json' }).end(JSON.stringify({ schemas: [], id: 'b1' }));
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/scim+json' })
      .end(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, Resources: [] }));
  });
  const oauth2 = { type: 'oauth2', tokenUrl: `${upstream.url}/token`, clientId: 'bridge', clientSecret: 'up-secret' };
  const proxied = (id: string, tls: Record<string, unknown>, auth: Record<string, unknown> = oauth2) => ({
    id,
    mode: 'proxy',
    auth: { bearer: [secret] },
    target: { baseUrl: `${upstream.url}/scim/v2`, timeoutMs: 3_000, auth, tls },
  });
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    connections: [
      proxied('mtls', { cert: pki.clientCert, key: pki.clientKey, ca: pki.caCert }),
      proxied('nocert', { ca: pki.caCert }),
      proxied('nocert-bearer', { ca: pki.caCert }, { type: 'bearer', token: 'up-static' }),
      { ...proxied('buffered', { cert: pki.clientCert, key: pki.clientKey, ca: pki.caCert }), proxy: { buffer: { writes: true, backoffMs: 20, maxBackoffMs: 100 } } },
    ],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
});

afterAll(async () => {
  await bridge?.close();
  await upstream?.close();
  pki?.cleanup();
  await dropPrefix(prefix);
});

async function list(id: string): Promise<{ status: number; body: { detail?: string; status?: string } }> {
  const res = await fetch(`${bridge.url}/${id}/scim/v2/Users`, { headers: { authorization: `Bearer ${secret}` } });
  return { status: res.status, body: (await res.json()) as { detail?: string } };
}

describe('mode: proxy with target.tls', () => {
  it('forwards with the client certificate, after a token fetched with it too', async () => {
    const answer = await list('mtls');
    expect(answer.status).toBe(200);
    expect(tokenRequests).toEqual(['client']);
    expect(seen).toEqual([{ cn: 'client', authorization: 'Bearer up-token', url: '/scim/v2/Users' }]);
  });

  it('without the client certificate: a SCIM 502 (the token request already fails the TLS session)', async () => {
    const answer = await list('nocert');
    expect(answer.status).toBe(502);
    expect(answer.body.detail).toBe('the bridge could not obtain credentials for the upstream SCIM service');
    expect(JSON.stringify(answer.body)).not.toContain('up-secret');
  });

  it('a forwarded request refused at the TLS level is a SCIM 502 saying so', async () => {
    const answer = await list('nocert-bearer');
    expect(answer.status).toBe(502);
    expect(answer.body.detail).toBe('the TLS handshake with the upstream failed');
  });

  it('a buffered write is replayed with the client certificate too', async () => {
    const patch = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'T' }] };
    const res = await fetch(`${bridge.url}/buffered/scim/v2/Users/b1`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(patch),
    });
    expect(res.status).toBe(202);
    await bridge.runtime.startWorkers(silentLogger);
    const buffer = bridge.runtime.proxy('buffered').buffer!;
    expect(await eventually(async () => (await buffer.pending()) === 0)).toBe(true);
    expect((await buffer.queue.getFailed()).length).toBe(0);
    expect(seen.filter((s) => s.url === '/scim/v2/Users/b1').map((s) => s.cn)).toEqual(['client', 'client']);
  });
});
