import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { loadConfig } from '../../src/config/load.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { readJson, startServer, type TestServer } from '../helpers/http-server.js';
import { jsonLogStream } from '../helpers/log-lines.js';

/**
 * Hot reload of the config file in a running bridge (API + worker, real Redis): a new bearer
 * secret (read from its `${file:…}`), a new target base URL, delivery options and another
 * mapping file apply; listen and redis changes are logged as needing a restart; an invalid file,
 * or a config naming a mapping that does not load, is refused and the running config stays.
 */

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ADMIN_PASSWORD = 'reload-admin-password';
const prefix = `sbtest-config-reload-${process.pid}-${Date.now().toString(36)}`;
let dir: string;
let configFile: string;
let bridge: RunningBridge;
const targets: TestServer[] = [];
/** Per target: the logins it received. */
const received: string[][] = [[], []];
const logs: Array<Record<string, unknown>> = [];

const mapping = (field: string) => ['version: 1', 'users:', '  fields:', `    ${field}: userName`, '  create: { method: POST, path: /users, targetId: id }', ''].join('\n');

function config(options: { secretFile: string; target: number; mapping: string; port?: number; redisUrl?: string; body?: string; rateLimit?: number }): string {
  return [
    `listen: { host: 127.0.0.1, port: ${options.port ?? 0} }`,
    `redis: { url: "${options.redisUrl ?? TEST_REDIS_URL}", prefix: ${prefix} }`,
    'logLevel: info',
    `admin: { username: ops, password: "\${file:admin-password}" }`,
    'connections:',
    '  - id: app',
    `    auth: { bearer: ["\${file:${options.secretFile}}"] }`,
    `    target: { baseUrl: "${targets[options.target]!.url}", timeoutMs: 2000 }`,
    `    mapping: ${options.mapping}`,
    '    delivery: { attempts: 5, backoffMs: 20, maxBackoffMs: 100 }',
    `    rateLimit: { max: ${options.rateLimit ?? 1000}, windowMs: 600000 }`,
    options.body ?? '',
  ].join('\n');
}

async function scim(secret: string, userName: string): Promise<number> {
  const res = await fetch(`${bridge.url}/app/scim/v2/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({ schemas: [USER], userName, active: true }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function until<T>(probe: () => T, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 300 && !done(probe()); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  return probe();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-config-reload-'));
  for (const index of [0, 1]) {
    let next = 0;
    targets.push(
      await startServer(async (req, res) => {
        const body = (await readJson(req)) as Record<string, string>;
        received[index]!.push(Object.values(body)[0]!);
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `t${index}-${(next += 1)}` }));
      }),
    );
  }
  await writeFile(join(dir, 'secret-a'), 'first-secret-0123456789abcdef');
  await writeFile(join(dir, 'secret-b'), 'second-secret-0123456789abcdef');
  await writeFile(join(dir, 'admin-password'), ADMIN_PASSWORD);
  await writeFile(join(dir, 'login.yaml'), mapping('login'));
  await writeFile(join(dir, 'email.yaml'), mapping('email'));
  configFile = join(dir, 'bridge.yaml');
  await writeFile(configFile, config({ secretFile: 'secret-a', target: 0, mapping: 'login.yaml' }));
  const logStream = jsonLogStream(logs);
  bridge = await startBridge(await loadConfig(configFile), { logStream });
});

afterAll(async () => {
  await bridge?.close();
  await dropPrefix(prefix);
  for (const target of targets) await target.close();
  await rm(dir, { recursive: true, force: true });
});

/** Writes the config file and sends SIGHUP (the file watch may notice it too: reloads run one at a time). */
async function change(text: string): Promise<void> {
  await writeFile(configFile, text);
  process.emit('SIGHUP', 'SIGHUP');
}
const logged = (msg: string) => logs.filter((line) => line.msg === msg);

/** The dashboard's description of the connection's queue (bull-board's JSON API). */
async function dashboardDescription(): Promise<string | undefined> {
  const res = await fetch(`${bridge.url}/admin/queues/api/queues`, {
    headers: { authorization: `Basic ${Buffer.from(`ops:${ADMIN_PASSWORD}`).toString('base64')}` },
  });
  const body = (await res.json()) as { queues: Array<{ displayName?: string; description?: string }> };
  return body.queues.find((queue) => queue.displayName === 'app')?.description;
}

describe('config hot reload', () => {
  it('applies a new bearer secret, target, delivery options and mapping file; logs what needs a restart', async () => {
    expect(await scim('first-secret-0123456789abcdef', 'ann')).toBe(201);
    expect(await until(() => received[0]!.length, (n) => n === 1)).toBe(1);
    expect(await dashboardDescription()).toBe(`connection app → ${targets[0]!.url}`);

    await change(
      config({ secretFile: 'secret-b', target: 1, mapping: 'email.yaml', port: 18_080, redisUrl: 'redis://127.0.0.1:6390', rateLimit: 4 }).replace('attempts: 5', 'attempts: 7'),
    );
    const [applied] = await until(() => logged('config reloaded: new settings in effect'), (lines) => lines.length > 0);
    expect(applied).toMatchObject({
      file: configFile,
      settings: ['connections.app.target', 'connections.app.auth', 'connections.app.rateLimit', 'connections.app.mapping', 'connections.app.delivery.attempts'],
    });
    const [restart] = await until(() => logged('config changes that require a restart were ignored'), (lines) => lines.length > 0);
    expect(restart).toMatchObject({ settings: ['listen.port', 'redis.url'] });
    expect(bridge.runtime.connection('app').config.delivery.attempts).toBe(7);
    expect(bridge.runtime.connection('app').plan.file).toBe(join(dir, 'email.yaml'));
    expect(bridge.runtime.live.current().listen.port).toBe(0);

    // The old secret no longer opens the connection; the new one does, and the user goes to the new target with the new mapping.
    expect(await scim('first-secret-0123456789abcdef', 'bob')).toBe(401);
    expect(await scim('second-secret-0123456789abcdef', 'cy')).toBe(201);
    expect(await until(() => received[1]!.length, (n) => n === 1)).toBe(1);
    expect(received).toEqual([['ann'], ['cy']]);
    // The dashboard names the new target without a restart.
    expect(await dashboardDescription()).toBe(`connection app → ${targets[1]!.url}`);
    // The same file again changes nothing.
    expect(await bridge.runtime.reloadConfig()).toEqual({ kind: 'restart', restart: ['listen.port', 'redis.url'] });
  });

  it('refuses an invalid config and a config whose new mapping does not load, keeping the running one', async () => {
    const before = bridge.runtime.live.current();
    await change('connections: []\n');
    const [invalid] = await until(() => logged('config not reloaded: the new version is invalid, the running one stays'), (lines) => lines.length > 0);
    expect(invalid).toMatchObject({ code: 'GW_CONFIG_INVALID', file: configFile });
    expect(await bridge.runtime.reloadConfig()).toMatchObject({ kind: 'invalid', code: 'GW_CONFIG_INVALID' });
    expect(bridge.runtime.live.current()).toBe(before);

    await writeFile(join(dir, 'broken.yaml'), 'version: 1\nusers:\n  fields: { x: "{" }\n');
    await change(config({ secretFile: 'secret-a', target: 0, mapping: 'broken.yaml' }));
    const mappingRefused = await until(
      () => logged('config not reloaded: the new version is invalid, the running one stays').filter((line) => line.code === 'GW_MAP_INVALID'),
      (lines) => lines.length > 0,
    );
    expect(mappingRefused[0]?.issues).toEqual([expect.stringContaining('broken.yaml:2:1 users: a section needs a `create` call')]);
    expect(bridge.runtime.live.current()).toBe(before);
    expect(await scim('first-secret-0123456789abcdef', 'dee')).toBe(401);
    expect(await scim('second-secret-0123456789abcdef', 'dee')).toBe(201);
    expect(await until(() => received[1]!.length, (n) => n === 2)).toBe(2);
    // Secrets are never logged.
    expect(JSON.stringify(logs)).not.toContain('secret-0123456789');

    // The reloaded inbound rate limit (4 per window, 3 used) answers 429 soon.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push(await scim('second-secret-0123456789abcdef', `burst-${i}`));
    expect(statuses).toEqual([201, 429, 429]);
  });
});
