import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/schema.js';
import { ConfigError, loadConfigSource } from '../../src/config/load.js';
import { TLS_FILES_DIGEST } from '../../src/config/target-tls.js';
import { classifyOutcome } from '../../src/delivery/classify.js';
import { createTargetClient, type TargetClient } from '../../src/delivery/http-client.js';
import { deliveryJobId } from '../../src/delivery/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { makeTestPki, startMtlsServer, type TestHttpsServer, type TestPki } from '../helpers/tls-certs.js';
import { healthy, startConnection, type ConnectionHarness } from './connection-harness.js';

/**
 * Mutual TLS towards the target (target.tls): real certificates made with openssl, a real https
 * server on 127.0.0.1 that demands a client certificate signed by its CA, and the bridge's
 * delivery client, OAuth2 token requests and worker against it.
 */

let pki: TestPki;
let target: TestHttpsServer;
let tokenServer: TestHttpsServer;
const seenClients: Array<string | undefined> = [];
const tokenClients: Array<string | undefined> = [];
const clients: TargetClient[] = [];

beforeAll(async () => {
  pki = makeTestPki();
  target = await startMtlsServer(pki, (req, res, cn) => {
    seenClients.push(cn);
    if (req.url?.startsWith('/accounts')) return healthy(req, res);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cn, authorization: req.headers.authorization ?? null }));
  });
  tokenServer = await startMtlsServer(pki, (req, res, cn) => {
    tokenClients.push(cn);
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: `tls-token-${tokenClients.length}`, token_type: 'Bearer', expires_in: 3600 })),
    );
  });
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await target?.close();
  await tokenServer?.close();
  pki?.cleanup();
});

function client(tls: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): TargetClient {
  const created = createTargetClient(targetSchema.parse({ baseUrl: target.url, timeoutMs: 5_000, ...(tls ? { tls } : {}), ...extra }));
  clients.push(created);
  return created;
}

const get = { method: 'GET', path: '/whoami', headers: {} } as const;

async function failure(c: TargetClient): Promise<unknown> {
  return c.send(get).then(
    () => {
      throw new Error('the call should have failed');
    },
    (error: unknown) => error,
  );
}

describe('target.tls: delivery calls', () => {
  it('presents the client certificate and trusts the target through the configured CA', async () => {
    const response = await client({ cert: pki.clientCert, key: pki.clientKey, ca: pki.caCert }).send(get);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ cn: 'client' });
  });

  it('loads an encrypted key with its passphrase', async () => {
    const response = await client({ cert: pki.clientCert, key: pki.clientKeyEncrypted, passphrase: pki.passphrase, ca: pki.caCert }).send(get);
    expect(response.json).toMatchObject({ cn: 'client' });
  });

  it('without a client certificate: a retryable GW_DELIVERY_TLS naming "certificate required"', async () => {
    const error = await failure(client({ ca: pki.caCert }));
    const verdict = classifyOutcome({ method: 'GET', path: '/whoami' }, { error });
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TLS' });
    expect((verdict as { reason: string }).reason).toMatch(/^GW_DELIVERY_TLS GET \/whoami failed: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED .*certificate required/);
  });

  it('with a certificate the target does not trust: GW_DELIVERY_TLS', async () => {
    const error = await failure(client({ cert: pki.strangerCert, key: pki.strangerKey, ca: pki.caCert }));
    const verdict = classifyOutcome({ method: 'GET', path: '/whoami' }, { error });
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TLS' });
    expect((verdict as { reason: string }).reason).toContain('TLS_CLOSED_AFTER_HANDSHAKE the target closed the connection right after the TLS handshake');
  });

  it.each([
    ['a CA that did not sign the target', () => pki.otherCaCert],
    ['no CA (system roots)', () => undefined],
  ])('with %s: GW_DELIVERY_TLS, the target certificate does not verify', async (_label, ca) => {
    const caPath = ca();
    const error = await failure(client({ cert: pki.clientCert, key: pki.clientKey, ...(caPath ? { ca: caPath } : {}) }));
    const verdict = classifyOutcome({ method: 'GET', path: '/whoami' }, { error });
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TLS' });
    expect((verdict as { reason: string }).reason).toContain('SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('checks the certificate against servername instead of the URL host', async () => {
    // The server certificate names 127.0.0.1 and localhost, not this.
    const error = await failure(client({ cert: pki.clientCert, key: pki.clientKey, ca: pki.caCert, servername: 'app.example.com' }));
    expect(classifyOutcome({ method: 'GET', path: '/whoami' }, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TLS' });
    const ok = await client({ cert: pki.clientCert, key: pki.clientKey, ca: pki.caCert, servername: 'localhost' }).send(get);
    expect(ok.status).toBe(200);
  });

  it('a key that does not belong to the certificate is a config error at start, naming the file only', () => {
    expect(() => client({ cert: pki.clientCert, key: pki.strangerKey, ca: pki.caCert })).toThrow(
      `target.tls.key: ${pki.strangerKey} is not the private key of the certificate in ${pki.clientCert}`,
    );
  });
});

describe('target.tls: the OAuth2 token endpoint', () => {
  const oauth2 = () => ({ type: 'oauth2', tokenUrl: `${tokenServer.url}/token`, clientId: 'bridge', clientSecret: 'tls-secret' });

  it('token requests present the client certificate too, and the token reaches the target', async () => {
    tokenClients.length = 0;
    const response = await client({ cert: pki.clientCert, key: pki.clientKey, ca: pki.caCert }, { auth: oauth2() }).send(get);
    expect(tokenClients).toEqual(['client']);
    expect(response.json).toMatchObject({ cn: 'client', authorization: 'Bearer tls-token-1' });
  });

  it('a token endpoint refusing the TLS session is a retryable GW_DELIVERY_AUTH naming the TLS code, without the secret', async () => {
    const error = await failure(client({ ca: pki.caCert }, { auth: oauth2() }));
    expect(error).toMatchObject({ code: 'GW_DELIVERY_AUTH' });
    expect((error as Error).message).toMatch(/^token endpoint failed: .*ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED/);
    expect((error as Error).message).not.toContain('tls-secret');
    expect(classifyOutcome({ method: 'GET', path: '/whoami' }, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });
});

describe('target.tls in a config file', () => {
  function configWith(tls: string, env: Record<string, string> = {}, baseUrl = 'https://app.example.com') {
    const dir = join(pki.dir, `config-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'm.yaml'), 'version: 1\nusers:\n  fields: { login: userName }\n  create: { method: POST, path: /a, targetId: id }\n');
    const source = [
      'connections:',
      '  - id: acme',
      '    mapping: m.yaml',
      '    target:',
      `      baseUrl: ${baseUrl}`,
      '      tls:',
      ...tls.split('\n').map((line) => `        ${line}`),
      '',
    ].join('\n');
    return () => loadConfigSource(source, join(dir, 'config.yaml'), { env });
  }

  function issuesOf(load: () => unknown): string[] {
    try {
      load();
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((i) => `${i.line} ${i.path}: ${i.message}`);
      throw error;
    }
    throw new Error('the config loaded');
  }

  it('resolves paths relative to the config file and loads', () => {
    const config = configWith(`cert: ${pki.clientCert}\nkey: ../client-encrypted.key\npassphrase: \${env:KEY_PASS}\nca: ../ca.pem`, {
      KEY_PASS: pki.passphrase,
    })();
    expect(config.connections[0]?.target.tls).toEqual({
      cert: pki.clientCert,
      key: pki.clientKeyEncrypted,
      passphrase: pki.passphrase,
      ca: pki.caCert,
      // What the files held, for config reloads (never serialized).
      [TLS_FILES_DIGEST]: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(JSON.stringify(config.connections[0]?.target.tls)).not.toMatch(/[0-9a-f]{64}/);
  });

  it('names the key, line and path of an unreadable or invalid file, never its contents', () => {
    const notPem = join(pki.dir, 'not-pem.txt');
    writeFileSync(notPem, 'hello, this is not a certificate');
    const issues = issuesOf(configWith(`cert: ${notPem}\nkey: ${join(pki.dir, 'missing.key')}\nca: ${pki.clientKey}`));
    expect(issues).toEqual([
      `7 connections.0.target.tls.cert: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      `8 connections.0.target.tls.key: cannot read ${join(pki.dir, 'missing.key')} (ENOENT)`,
      `9 connections.0.target.tls.ca: ${pki.clientKey} is not a bundle of PEM certificates`,
    ]);
    expect(issues.join('\n')).not.toContain('hello');
  });

  it('an encrypted key needs its passphrase; a wrong one is named as such', () => {
    expect(issuesOf(configWith(`cert: ${pki.clientCert}\nkey: ${pki.clientKeyEncrypted}`))).toEqual([
      `8 connections.0.target.tls.key: ${pki.clientKeyEncrypted} is not a usable PEM private key: it is encrypted, give target.tls.passphrase`,
    ]);
    const wrong = issuesOf(configWith(`cert: ${pki.clientCert}\nkey: ${pki.clientKeyEncrypted}\npassphrase: \${env:KEY_PASS}`, { KEY_PASS: 'nope' }));
    expect(wrong).toEqual([`8 connections.0.target.tls.key: ${pki.clientKeyEncrypted} is not a usable PEM private key: wrong passphrase`]);
    expect(wrong.join('\n')).not.toContain('nope');
  });

  it('refuses a literal passphrase, a cert without key, and tls on an http target', () => {
    expect(() => configWith(`cert: ${pki.clientCert}\nkey: ${pki.clientKeyEncrypted}\npassphrase: hunter2`)()).toThrow(/secrets must not be written/);
    expect(issuesOf(configWith(`cert: ${pki.clientCert}`))).toEqual([expect.stringContaining('connections.0.target.tls.key: cert and key go together')]);
    expect(issuesOf(configWith(`ca: ${pki.caCert}`, {}, 'http://app.example.com'))).toEqual([
      expect.stringContaining('connections.0.target.tls: tls needs an https:// baseUrl'),
    ]);
  });
});

describe('target.tls: delivery jobs', () => {
  let redis: TestRedis;
  const harnesses: ConnectionHarness[] = [];

  beforeAll(() => {
    redis = createTestRedis('target-tls');
  });

  afterAll(async () => {
    await Promise.allSettled(harnesses.map((h) => h.close()));
    await redis?.cleanup();
  });

  async function connection(id: string, tls: Record<string, unknown>) {
    const unused = (_req: IncomingMessage, res: ServerResponse) => res.writeHead(500).end();
    const harness = await startConnection(redis, id, unused, { attempts: 2 }, { baseUrl: target.url, tls });
    harnesses.push(harness);
    return harness;
  }

  it('a job delivers through mutual TLS', async () => {
    const harness = await connection('mtls-ok', { cert: pki.clientCert, key: pki.clientKey, ca: pki.caCert });
    const job = await harness.finished(deliveryJobId(await harness.user('u1')));
    expect(await job.getState()).toBe('completed');
  });

  it('without the client certificate the job retries, then fails with a GW_DELIVERY_TLS reason', async () => {
    const harness = await connection('mtls-none', { ca: pki.caCert });
    const job = await harness.finished(deliveryJobId(await harness.user('u1')));
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toMatch(/^GW_DELIVERY_TLS POST \/accounts failed: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED/);
  });
});
