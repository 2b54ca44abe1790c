import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { targetSchema } from '../../src/config/schema.js';
import { createTargetClient } from '../../src/delivery/http-client.js';
import { listTarget, type ReconcileReport } from '../../src/delivery/reconcile.js';
import { reconcileQueueName } from '../../src/delivery/reconcile-schedule.js';
import { listRuleSchema } from '../../src/mapping/schema.js';
import { SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { createProcessFixture, type ProcessFixture } from '../helpers/process-fixture.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { captureIo } from './capture-io.js';

/**
 * `scim-bridge reconcile` against a real target that lists its accounts page by page (pages
 * counted from 0), with drift planted on both sides: a changed name, a vanished account, an
 * account the bridge never made, a user not delivered yet.
 */

const MAPPING = `version: 1
users:
  fields:
    login: userName
    name: displayName
  list:
    path: /accounts?page={page}&per_page={size}
    paging: page
    start: 0
    size: 2
    items: data
    id: id
  create:
    method: POST
    path: /accounts
    targetId: id
  update:
    method: PUT
    path: /accounts/{targetId}
`;

interface Account {
  id: string;
  login: string;
  name: string;
}

const accounts = new Map<string, Account>();
let nextId = 100;
let target: TestServer;
let fixture: ProcessFixture;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://t');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Account) : undefined;
    const all = [...accounts.values()].sort((a, b) => a.id.localeCompare(b.id));
    if (req.method === 'GET' && url.pathname === '/accounts') {
      const size = Number(url.searchParams.get('per_page'));
      if (url.searchParams.has('page')) {
        const page = Number(url.searchParams.get('page'));
        return void json(200, { data: all.slice(page * size, page * size + size) });
      }
      const offset = Number(url.searchParams.get('offset'));
      if (url.searchParams.has('offset')) return void json(200, all.slice(offset, offset + size));
      const after = url.searchParams.get('cursor') ?? '';
      const from = after ? all.findIndex((a) => a.id === after) + 1 : 0;
      const slice = all.slice(from, from + size);
      return void json(200, { items: slice, meta: { next: from + size < all.length ? slice.at(-1)?.id : null } });
    }
    if (req.method === 'POST') {
      const account = { id: `acc-${++nextId}`, login: body!.login, name: body!.name };
      accounts.set(account.id, account);
      return void json(201, account);
    }
    const existing = accounts.get(url.pathname.split('/').pop() ?? '');
    if (!existing) return void json(404, { message: 'gone' });
    Object.assign(existing, body);
    json(200, existing);
  });
}

const now = new Date().toISOString();
const user = (id: string, name: string) =>
  ({ id, schemas: [SCHEMA_USER], userName: `${id}@example.com`, displayName: name, meta: { resourceType: 'User', created: now, lastModified: now } }) as ScimResource;

beforeAll(async () => {
  target = await startServer(handle);
  fixture = await createProcessFixture('reconcile', { redisUrl: TEST_REDIS_URL, targetUrl: target.url, mapping: MAPPING });
  process.env.REDIS_URL = TEST_REDIS_URL;
  process.env.SCIM_SECRET = fixture.secret;
  // u1..u4 delivered; then u2's account renamed in the target, u3's account deleted there, an
  // account the bridge never made appears, and u5 is stored but not delivered yet.
  for (const [i, name] of ['One', 'Two', 'Three', 'Four', 'Five'].entries()) {
    const id = `u${i + 1}`;
    await fixture.store.create('User', user(id, name));
    if (i < 4) {
      accounts.set(`acc-${i + 1}`, { id: `acc-${i + 1}`, login: `${id}@example.com`, name });
      await fixture.store.setDeliveryState('User', id, { targetId: `acc-${i + 1}`, revision: 1, bodyHash: 'delivered' });
    }
  }
  accounts.get('acc-2')!.name = 'Two (edited in the app)';
  accounts.delete('acc-3');
  accounts.set('acc-99', { id: 'acc-99', login: 'local.admin@example.com', name: 'Local admin' });
});

afterAll(async () => {
  delete process.env.SCIM_SECRET;
  await fixture?.close();
  await target?.close();
});

async function run(...args: string[]) {
  const captured = captureIo();
  const code = await main(['reconcile', 'acme', '--config', fixture.configFile, ...args], captured.io);
  return { code, ...captured.out };
}

describe('scim-bridge reconcile', () => {
  it('--dry-run --json reports drifted, missing, orphaned and pending resources and changes nothing', async () => {
    const result = await run('--dry-run', '--json');
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as ReconcileReport;
    expect(report).toMatchObject({ connectionId: 'acme', dryRun: true });
    expect(report.types).toEqual([
      {
        type: 'User',
        listed: true,
        target: 4,
        bridge: 5,
        inSync: 2,
        drifted: [{ id: 'u2', targetId: 'acc-2', fields: ['name'] }],
        missing: [{ id: 'u3', targetId: 'acc-3' }],
        pending: ['u5'],
        orphans: ['acc-99'],
        redelivered: 0,
      },
    ]);
    expect(await fixture.store.getDeliveryState('User', 'u2')).toMatchObject({ revision: 1, bodyHash: 'delivered' });
    expect(await fixture.queue.queue.getJobCounts('waiting', 'delayed', 'prioritized')).toEqual({ waiting: 0, delayed: 0, prioritized: 0 });
  });

  it('re-delivers what drifted, leaves the orphan alone, and a worker repairs the target', async () => {
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      [
        'reconcile acme',
        'users: target 4, bridge 5: 2 in sync, 1 drifted, 1 missing, 1 not delivered yet, 1 orphans',
        '  drifted u2 (target acc-2): name',
        '  missing u3 (target acc-3 is gone)',
        '  orphans, not touched: acc-99',
        '  re-delivering: 2 jobs queued',
        '',
      ].join('\n'),
    );
    const config = await loadConfig(fixture.configFile);
    const worker = await startBridge({ ...config, logLevel: 'silent' }, { api: false, worker: true });
    try {
      const repaired = async () =>
        accounts.get('acc-2')?.name === 'Two' && [...accounts.values()].some((a) => a.login === 'u3@example.com' && a.name === 'Three');
      const deadline = Date.now() + 30_000;
      while (!(await repaired()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await repaired()).toBe(true);
    } finally {
      await worker.close();
    }
    expect(accounts.get('acc-99')).toEqual({ id: 'acc-99', login: 'local.admin@example.com', name: 'Local admin' });
    const after = JSON.parse((await run('--dry-run', '--json')).stdout) as ReconcileReport;
    expect(after.types[0]).toMatchObject({ drifted: [], missing: [], orphans: ['acc-99'] });
  });

  it('refuses an unknown connection with exit 2', async () => {
    const captured = captureIo();
    expect(await main(['reconcile', 'nope', '--config', fixture.configFile], captured.io)).toBe(2);
    expect(captured.out.stderr).toContain('no connection "nope"');
  });
});

describe('list paging styles', () => {
  const client = () => createTargetClient(targetSchema.parse({ baseUrl: target.url }));
  it.each([
    ['page from 0', { path: '/accounts?page={page}&per_page={size}', paging: 'page', start: 0, size: 2, items: 'data' }],
    ['offset from 0', { path: '/accounts?offset={offset}&per_page={size}', paging: 'offset', size: 2 }],
    ['cursor', { path: '/accounts?cursor={cursor}&per_page={size}', paging: 'cursor', size: 2, items: 'items', next: 'meta.next' }],
  ])('reads every account with %s paging', async (_label, rule) => {
    const c = client();
    try {
      const items = await listTarget(c, listRuleSchema.parse(rule), 'User');
      expect([...items.keys()].sort()).toEqual([...accounts.keys()].sort());
    } finally {
      await c.close();
    }
  });

  it('stops with GW_RECONCILE_LIST when the target ignores the paging and repeats a page', async () => {
    const c = client();
    try {
      await expect(listTarget(c, listRuleSchema.parse({ path: '/accounts?page=0&per_page=2', size: 2, items: 'data' }), 'User')).rejects.toMatchObject({
        code: 'GW_RECONCILE_LIST',
      });
    } finally {
      await c.close();
    }
  });
});

describe('scheduled reconcile', () => {
  let bridge: RunningBridge | undefined;
  afterAll(async () => {
    await bridge?.close();
  });

  it('registers one job scheduler per connection and repairs drift on its own', async () => {
    accounts.get('acc-1')!.name = 'One (edited again)';
    const config = await loadConfig(fixture.configFile);
    const scheduled = { ...config, logLevel: 'silent' as const, connections: config.connections.map((c) => ({ ...c, reconcile: { every: 60_000 } })) };
    bridge = await startBridge(scheduled, { api: false, worker: true });
    const { Queue } = await import('bullmq');
    const queue = new Queue(reconcileQueueName('acme'), { connection: fixture.redis, prefix: `${fixture.prefix}:{bull}` });
    try {
      expect((await queue.getJobSchedulers()).map((s) => ({ key: s.key, every: s.every }))).toEqual([{ key: 'reconcile', every: 60_000 }]);
    } finally {
      await queue.close();
    }
    const deadline = Date.now() + 30_000;
    while (accounts.get('acc-1')?.name !== 'One' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(accounts.get('acc-1')?.name).toBe('One');
  });
});
