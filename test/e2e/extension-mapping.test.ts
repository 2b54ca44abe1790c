import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { eventually } from '../helpers/bridge.js';
import { readJson, startServer, type TestServer } from '../helpers/http-server.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';

/**
 * A declared extension's attributes are mappable like any SCIM attribute: the mapping's `from:`
 * path `urn:…:2.0:User:attr` (and `urn:…:User:attr.sub`) reaches the target. Real bridge (API +
 * worker, real Redis, BullMQ) in front of a real HTTP target that records what it receives.
 */

const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
const MAPPING = `version: 1
users:
  fields:
    login: userName
    badge: '${ACME}:badge'
    building:
      from: '${ACME}:site.building'
    contractor:
      from: '${ACME}:contractor'
      default: false
    # Entra's SingleAppRoleAssignment JSON-encodes the app role into roles[].value; $eval reads it.
    roles:
      expr: '[roles.($contains(value, "{") ? $eval(value).value : value)]'
  create:
    method: POST
    path: /people
    targetId: id
  update:
    method: PUT
    path: /people/{targetId}
  delete:
    method: DELETE
    path: /people/{targetId}
`;

const prefix = `sbtest-extmap-${randomBytes(4).toString('hex')}`;
const secret = randomBytes(16).toString('hex');
const received: { method: string; url: string; body: unknown }[] = [];
let target: TestServer;
let bridge: RunningBridge;
let dir: string;
let tenantUrl: string;

beforeAll(async () => {
  target = await startServer((req, res) => {
    void readJson(req).then((body) => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `p-${received.length}` }));
    });
  });
  dir = await mkdtemp(join(tmpdir(), 'scim-ext-'));
  const mapping = join(dir, 'acme.yaml');
  await writeFile(mapping, MAPPING);
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    connections: [
      {
        id: 'acme',
        auth: { bearer: [secret] },
        target: { baseUrl: target.url, timeoutMs: 2000 },
        mapping,
        delivery: { attempts: 3, backoffMs: 20, maxBackoffMs: 100 },
        extensions: [
          {
            id: ACME,
            attributes: [
              { name: 'badge', type: 'integer' },
              { name: 'contractor', type: 'boolean' },
              { name: 'site', type: 'complex', subAttributes: [{ name: 'building', type: 'string' }] },
            ],
          },
        ],
      },
    ],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false });
  tenantUrl = `${bridge.url}/acme/scim/v2`;
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await dropPrefix(prefix);
});

it('delivers declared extension attributes read by URN paths in the mapping, and decoded Entra role values', async () => {
  const res = await fetch(`${tenantUrl}/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' },
    // As Entra sends it: the extension object, its URN not in `schemas`, a string boolean.
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'ada@example.com',
      [ACME]: { badge: 42, contractor: 'True', site: { building: 'B7' } },
      roles: [
        { primary: true, type: 'WindowsAzureActiveDirectoryRole', value: '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}' },
        { primary: false, type: 'WindowsAzureActiveDirectoryRole', value: 'Admin' },
      ],
    }),
  });
  expect(res.status).toBe(201);
  const create = await eventually(async () => received.find((r) => r.method === 'POST'));
  expect(create).toEqual({ method: 'POST', url: '/people', body: { login: 'ada@example.com', badge: 42, building: 'B7', contractor: true, roles: ['25', 'Admin'] } });
});
