import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { loadConfig } from '../../src/config/load.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { makeTestPki, startMtlsServer, type TestHttpsServer, type TestPki } from '../helpers/tls-certs.js';
import { jsonLogStream } from '../helpers/log-lines.js';

/**
 * Rotating the client certificate of `target.tls` without a restart: the files named in the
 * config are replaced (same paths, the config file untouched), and a config reload (SIGHUP, or
 * `reloadConfig`) reads them again: the next delivery, and the next request of a `mode: proxy`
 * connection, present the new certificate. Files that do
 * not fit together are refused like any invalid config, and the running certificate stays.
 * A running bridge (API + worker) on real Redis, and a real https target demanding client certificates.
 */

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const prefix = `sbtest-tlsreload-${randomBytes(4).toString('hex')}`;
const secret = randomBytes(16).toString('hex');

let pki: TestPki;
let target: TestHttpsServer;
let bridge: RunningBridge;
let dir: string;
/** The client certificate's CN of each create the target received, in order. */
const seen: Array<string | undefined> = [];
/** The same for the requests of the `mode: proxy` connection. */
const proxied: Array<string | undefined> = [];
const logs: Array<Record<string, unknown>> = [];

/** Replaces `to` by a copy of `from` the way deploy tools do: a temp file renamed over it. */
function replace(from: string, to: string): void {
  copyFileSync(from, `${to}.tmp`);
  renameSync(`${to}.tmp`, to);
}

async function create(userName: string): Promise<void> {
  const res = await fetch(`${bridge.url}/app/scim/v2/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({ schemas: [USER], userName, active: true }),
  });
  await res.arrayBuffer();
  expect(res.status).toBe(201);
}

/** One request through the `mode: proxy` connection; the CN the upstream saw. */
async function viaProxy(): Promise<string | undefined> {
  const res = await fetch(`${bridge.url}/px/scim/v2/Users`, { headers: { authorization: `Bearer ${secret}` } });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return proxied.at(-1);
}

async function delivered(count: number): Promise<void> {
  for (let i = 0; i < 300 && seen.length < count; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(seen).toHaveLength(count);
}

beforeAll(async () => {
  pki = makeTestPki();
  let next = 0;
  target = await startMtlsServer(pki, (req, res, cn) => {
    req.resume();
    if (req.url?.startsWith('/scim/v2/')) {
      proxied.push(cn);
      res.writeHead(200, { 'content-type': 'application/scim+json' }).end(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, Resources: [] }));
      return;
    }
    req.on('end', () => {
      seen.push(cn);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `t-${(next += 1)}` }));
    });
  });
  dir = mkdtempSync(join(tmpdir(), 'scim-bridge-tlsreload-'));
  copyFileSync(pki.clientCert, join(dir, 'client.pem'));
  copyFileSync(pki.clientKey, join(dir, 'client.key'));
  copyFileSync(pki.clientCert, join(dir, 'proxy.pem'));
  copyFileSync(pki.clientKey, join(dir, 'proxy.key'));
  writeFileSync(join(dir, 'secret'), secret);
  writeFileSync(join(dir, 'mapping.yaml'), ['version: 1', 'users:', '  fields:', '    login: userName', '  create: { method: POST, path: /users, targetId: id }', ''].join('\n'));
  const configFile = join(dir, 'bridge.yaml');
  writeFileSync(
    configFile,
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      `redis: { url: "${TEST_REDIS_URL}", prefix: ${prefix} }`,
      'logLevel: info',
      'connections:',
      '  - id: app',
      '    auth: { bearer: ["${file:secret}"] }',
      `    target: { baseUrl: "${target.url}", timeoutMs: 3000, tls: { cert: client.pem, key: client.key, ca: "${pki.caCert}" } }`,
      '    mapping: mapping.yaml',
      '    delivery: { attempts: 5, backoffMs: 20, maxBackoffMs: 100 }',
      '  - id: px',
      '    mode: proxy',
      '    auth: { bearer: ["${file:secret}"] }',
      `    target: { baseUrl: "${target.url}/scim/v2", timeoutMs: 3000, tls: { cert: proxy.pem, key: proxy.key, ca: "${pki.caCert}" } }`,
      '',
    ].join('\n'),
  );
  const logStream = jsonLogStream(logs);
  bridge = await startBridge(await loadConfig(configFile), { logStream });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await dropPrefix(prefix);
});

describe('target.tls files re-read on a config reload', () => {
  it('presents the rotated client certificate after SIGHUP, without a restart', async () => {
    await create('ann');
    await delivered(1);
    expect(seen).toEqual(['client']);
    expect(await viaProxy()).toBe('client');

    replace(pki.client2Cert, join(dir, 'client.pem'));
    replace(pki.client2Key, join(dir, 'client.key'));
    replace(pki.client2Cert, join(dir, 'proxy.pem'));
    replace(pki.client2Key, join(dir, 'proxy.key'));
    process.emit('SIGHUP', 'SIGHUP');
    for (let i = 0; i < 300 && !logs.some((line) => line.msg === 'config reloaded: new settings in effect'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(logs.find((line) => line.msg === 'config reloaded: new settings in effect')).toMatchObject({
      settings: ['connections.app.target.tls (files)', 'connections.px.target.tls (files)'],
    });
    expect(logs.some((line) => line.msg === 'config changes that require a restart were ignored')).toBe(false);

    await create('bob');
    await delivered(2);
    expect(seen).toEqual(['client', 'client2']);
    // The proxy connection opens new connections with the new certificate (the old pool is retired).
    expect(await viaProxy()).toBe('client2');
    // Nothing of the files' contents is logged.
    expect(JSON.stringify(logs)).not.toContain('PRIVATE KEY');
  });

  it('the same files again change nothing; files that do not fit together are refused and the running certificate stays', async () => {
    expect(await bridge.runtime.reloadConfig()).toEqual({ kind: 'unchanged' });

    // Half a rotation: the old certificate with the new key.
    replace(pki.clientCert, join(dir, 'client.pem'));
    const refused = await bridge.runtime.reloadConfig();
    expect(refused).toMatchObject({ kind: 'invalid', code: 'GW_CONFIG_INVALID', issues: [expect.stringContaining('is not the private key of the certificate')] });

    await create('cy');
    await delivered(3);
    expect(seen).toEqual(['client', 'client2', 'client2']);

    // The rotation completed: the next reload applies it.
    replace(pki.clientKey, join(dir, 'client.key'));
    expect(await bridge.runtime.reloadConfig()).toEqual({ kind: 'applied', applied: ['connections.app.target.tls (files)'], restart: [] });
    await create('dee');
    await delivered(4);
    expect(seen.at(-1)).toBe('client');
  });
});
