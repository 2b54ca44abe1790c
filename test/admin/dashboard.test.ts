import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/secret-hash.js';
import { startBridge } from '../../src/bridge.js';
import { startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';

const PASSWORD = 'dashboard-pass-1';
const TOKEN = 'admin-token-0123456789abcdef';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('admin routes', () => {
  let fx: BridgeFixture;
  let plain: BridgeFixture;

  beforeAll(async () => {
    fx = await startBridgeFixture('dashboard', {
      worker: false,
      connection: { displayName: 'Acme HR' },
      config: { admin: { username: 'ops', password: PASSWORD, tokenHashes: [sha256Hex(TOKEN)], allow: { retry: true } } },
    });
    plain = await startBridgeFixture('noadmin', { worker: false });
  });
  afterAll(async () => {
    await fx?.close();
    await plain?.close();
  });

  const get = (path: string, authorization?: string) =>
    fetch(`${fx.bridge.url}${path}`, { headers: authorization ? { authorization } : {} });

  it.each(['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/js/main.js', '/admin/nothing-here'])(
    'refuses anonymous and wrong credentials on %s with 401',
    async (path) => {
      for (const authorization of [undefined, basic('ops', 'wrong'), basic('other', PASSWORD), 'Bearer wrong-token', `Basic !!!`]) {
        const res = await get(path, authorization);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Basic realm="scim-bridge admin", charset="UTF-8", Bearer realm="scim-bridge admin"');
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toEqual({ status: 401, error: 'unauthorized', detail: 'admin credentials required' });
      }
    },
  );

  it('serves the dashboard with Basic credentials or a bearer token', async () => {
    for (const authorization of [basic('ops', PASSWORD), `Bearer ${TOKEN}`]) {
      const page = await get('/admin/queues', authorization);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<base href="/admin/queues/" />');
    }
  });

  it('lists one queue per connection under its display name, retries allowed, other changes refused', async () => {
    const res = await get('/admin/queues/api/queues', basic('ops', PASSWORD));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: Array<{ name: string; displayName: string; readOnlyMode: boolean; allowRetries: boolean }> };
    expect(body.queues.map((q) => [q.name, q.displayName, q.readOnlyMode, q.allowRetries])).toEqual([['delivery-acme', 'Acme HR', false, true]]);

    const put = (path: string) => fetch(`${fx.bridge.url}${path}`, { method: 'PUT', headers: { authorization: basic('ops', PASSWORD) } });
    expect((await put('/admin/queues/api/queues/delivery-acme/pause')).status).toBe(405);
    expect((await put('/admin/queues/api/queues/delivery-acme/clean/failed')).status).toBe(405);
    expect((await put('/admin/queues/api/queues/delivery-acme/retry/failed')).status).toBe(200);
    const anonymous = await fetch(`${fx.bridge.url}/admin/queues/api/queues/delivery-acme/retry/failed`, { method: 'PUT' });
    expect(anonymous.status).toBe(401);
  });

  it('does not serve admin routes without admin config', async () => {
    const res = await fetch(`${plain.bridge.url}/admin/queues`);
    expect(res.status).toBe(404);
  });
});

describe('admin login throttle', () => {
  let fx: BridgeFixture;

  beforeAll(async () => {
    fx = await startBridgeFixture('admin-throttle', {
      worker: false,
      config: { admin: { username: 'ops', password: PASSWORD, tokenHashes: [sha256Hex(TOKEN)], failedLoginLimit: { max: 3, windowMs: 60_000 } } },
    });
  });
  afterAll(async () => {
    await fx?.close();
  });

  const get = (authorization?: string) => fetch(`${fx.bridge.url}/admin/api/connections`, { headers: authorization ? { authorization } : {} });

  it('answers 429 with Retry-After, unchecked, after max failed logins as one user; others and anonymous requests unaffected', async () => {
    // Anonymous requests (a browser before its prompt) are no failed logins.
    for (let i = 0; i < 5; i += 1) expect((await get()).status).toBe(401);
    for (let i = 0; i < 3; i += 1) expect((await get(basic('ops', `wrong-${i}`))).status).toBe(401);
    const throttled = await get(basic('ops', PASSWORD));
    expect(throttled.status).toBe(429);
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await throttled.json()).toEqual({ status: 429, error: 'too_many_requests', detail: expect.stringMatching(/^too many failed logins; retry in \d+ s$/) });
    // Bearer tokens are counted apart from the Basic user, so the right token still works.
    expect((await get(`Bearer ${TOKEN}`)).status).toBe(200);
  });

  it('shares the count across processes: a second process on the same Redis throttles that user too', async () => {
    const second = await startBridge(fx.config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
    try {
      const res = await fetch(`${second.url}/admin/api/connections`, { headers: { authorization: basic('ops', PASSWORD) } });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await fetch(`${second.url}/admin/api/connections`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await second.close();
    }
  });
});
