import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { queueName } from '../../src/delivery/types.js';
import { bullPrefix } from '../../src/runtime.js';
import { loadMapping } from '../../src/mapping/load.js';
import { startBridgeFixture, SAMPLE_MAPPING, type BridgeFixture } from '../helpers/bridge.js';
import { captureIo } from './capture-io.js';

/** `explain`, `init` and `redeliver`, in process. */

async function cli(...args: string[]) {
  const { io, out } = captureIo();
  const code = await main(args, io);
  return { code, ...out };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-tools-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scim-bridge explain', () => {
  it('names the SCIM source of every field and the calls of every change', async () => {
    const file = join(dir, 'explain.yaml');
    await writeFile(
      file,
      [
        'version: 1',
        'users:',
        '  fields:',
        '    login: userName',
        '    manager_id: { from: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", ref: User, default: null }',
        '    role: { fromGroups: { table: [{ groups: [App Admins], value: Admin }] }, default: User }',
        '  create:',
        '    - { method: POST, path: /people, targetId: id }',
        '    - { method: PUT, path: "/people/{targetId}/manager", when: "$exists($fields.manager_id)" }',
        '  update: { method: PUT, path: "/people/{targetId}" }',
        '',
      ].join('\n'),
    );
    const result = await cli('explain', file);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('login      ← userName');
    expect(result.stdout).toContain(
      "manager_id ← urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value (default null; sent as the User's target id)",
    );
    expect(result.stdout).toContain('role       ← groups by displayName: "Admin" if in App Admins (default "User")');
    expect(result.stdout).toContain('new user → create POST /people, then PUT /people/{targetId}/manager [when $exists($fields.manager_id)]');
    expect(result.stdout).toContain('mapped fields change → update PUT /people/{targetId}');
    expect(result.stdout).toContain('groups: not delivered (stored by the bridge only)');
    expect(result.stdout).toContain('group changes still re-deliver their members');
  });

  it('shows bulk member calls with their chunk size and the per-job bound', async () => {
    const result = await cli('explain', 'mappings/examples/team-roster.yaml');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('member added → addMembers POST /api/teams/{targetId}/members/add (one call per 100 members) (once the member has a target id)');
    expect(result.stdout).toContain('member removed → removeMembers POST /api/teams/{targetId}/members/remove (one call per 100 members)');
    expect(result.stdout).toContain('at most 10 member calls per job; more go on in a follow-up job');
  });

  it('prints the load errors of an invalid mapping and exits 1; usage exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\nusers:\n  create: { method: POST, path: /a }\n');
    const result = await cli('explain', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('GW_MAP_INVALID');
    expect((await cli('explain')).code).toBe(2);
  });
});

describe('scim-bridge init', () => {
  it('writes a starter mapping that loads, and never overwrites a file', async () => {
    const file = join(dir, 'my-app.yaml');
    expect(await cli('init', file)).toMatchObject({ code: 0 });
    const plan = await loadMapping(file);
    expect(plan.supports('User') && plan.supports('Group')).toBe(true);
    expect(await readFile(file, 'utf8')).toContain('docs/mapping.md');
    const again = await cli('init', file);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('it exists');
    expect((await cli('init', '-')).stdout).toMatch(/^# yaml-language-server/);
  });
});

describe('scim-bridge redeliver', () => {
  let fixture: BridgeFixture;
  afterAll(async () => {
    await fixture?.close();
  });

  it('queues every user and group of the connection again; jobs without changes make no call', async () => {
    fixture = await startBridgeFixture('redeliver');
    expect((await fixture.scim('POST', '/Users', { userName: 'ann@contoso.example', schemas: [] })).status).toBe(201);
    expect((await fixture.scim('POST', '/Groups', { displayName: 'Sales', schemas: [] })).status).toBe(201);
    const config = join(dir, 'bridge.yaml');
    await writeFile(
      config,
      [
        'redis:',
        `  url: ${fixture.config.redis.url}`,
        `  prefix: ${fixture.config.redis.prefix}`,
        'connections:',
        '  - id: acme',
        '    auth: { bearer: ["${env:REDELIVER_TEST_SECRET}"] }',
        `    target: { baseUrl: "${fixture.legacy.url}", auth: { type: bearer, token: "\${env:REDELIVER_TEST_SECRET}" } }`,
        `    mapping: ${SAMPLE_MAPPING}`,
        '',
      ].join('\n'),
    );
    process.env.REDELIVER_TEST_SECRET = 'x'.repeat(32);
    const queue = new Queue(queueName('acme'), { connection: { url: fixture.config.redis.url }, prefix: bullPrefix(fixture.config) });
    // Bounded by count and time.
    const completed = async (redelivered: boolean, count: number) => {
      let done: Array<{ data: { trigger?: string }; returnvalue: unknown }> = [];
      for (let i = 0; i < 150; i += 1) {
        done = (await queue.getJobs(['completed'])).filter((job) => (job.data.trigger?.startsWith('redeliver-') ?? false) === redelivered);
        if (done.length >= count) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return done;
    };
    try {
      expect(await completed(false, 2)).toHaveLength(2);
      const result = await cli('redeliver', 'acme', '--config', config);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('queued 1 users and 1 groups of acme for delivery\n');
      expect((await cli('redeliver', 'nope', '--config', config)).stderr).toContain('no connection "nope" (known: acme)');
      // The mapping did not change, so the redelivered jobs find nothing to send.
      const done = await completed(true, 2);
      expect(done.map((job) => job.returnvalue)).toEqual([expect.objectContaining({ calls: 0 }), expect.objectContaining({ calls: 0 })]);
    } finally {
      await queue.close();
    }
  });
});
