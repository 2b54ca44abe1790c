import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userBody } from '../api/support.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';

/** /metrics and /readyz of real processes: an API+worker bridge behind admin auth, and a worker-only one with its own listener. */

const PASSWORD = 'metrics-pass';
const auth = { authorization: `Basic ${Buffer.from(`ops:${PASSWORD}`).toString('base64')}` };
/** A scrape token (`metrics.tokens`): opens /metrics and nothing else. */
const SCRAPE_TOKEN = randomBytes(24).toString('base64url');
const scrapeAuth = { authorization: `Bearer ${SCRAPE_TOKEN}` };

/** Metric names a Prometheus text exposition declares (`# TYPE <name> <kind>`). */
function exportedNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!));
}

/** Metric names a PromQL-bearing file uses, with histogram suffixes folded to the metric. */
function usedNames(text: string): Set<string> {
  const names = [...text.matchAll(/\b((?:scim_bridge|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
  return new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, '')));
}

describe('metrics and health', () => {
  let fx: BridgeFixture;
  let worker: BridgeFixture;
  let open: BridgeFixture;

  beforeAll(async () => {
    fx = await startBridgeFixture('metrics', { config: { admin: { username: 'ops', password: PASSWORD }, metrics: { tokens: [SCRAPE_TOKEN] } } });
    worker = await startBridgeFixture('metricsw', { worker: true, config: { metrics: { listen: { host: '127.0.0.1', port: 0 }, tokens: [SCRAPE_TOKEN] } } });
    open = await startBridgeFixture('metricsp', { worker: true, config: { metrics: { listen: { host: '127.0.0.1', port: 0 }, public: true } } });
  });
  afterAll(async () => {
    await fx?.close();
    await worker?.close();
    await open?.close();
  });

  const scrape = async () => {
    const res = await fetch(`${fx.bridge.url}/metrics`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it('guards /metrics with the admin credentials or a scrape token, and a scrape token opens nothing else', async () => {
    const res = await fetch(`${fx.bridge.url}/metrics`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic .*, Bearer /);
    expect((await fetch(`${fx.bridge.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${fx.bridge.url}/metrics`, { headers: scrapeAuth })).status).toBe(200);
    expect((await fetch(`${fx.bridge.url}/admin/api/connections`, { headers: scrapeAuth })).status).toBe(401);
    expect((await fetch(`${fx.bridge.url}/admin/api/connections`, { headers: auth })).status).toBe(200);
  });

  it('counts SCIM requests and deliveries by connection, operation, action and status, and reads queues from Redis', async () => {
    const created = await fx.scim('POST', '/Users', userBody(`m.${randomBytes(3).toString('hex')}@example.com`));
    expect(created.status).toBe(201);
    expect((await fx.scim('GET', `/Users/${created.body.id}`)).status).toBe(200);
    expect((await fx.scim('GET', '/Users/nope')).status).toBe(404);

    const text = await eventually(async () => {
      const t = await scrape();
      return t.includes('scim_bridge_delivery_attempts_total{connection="acme",outcome="delivered"} 1') ? t : undefined;
    });
    expect(text).toContain('scim_bridge_scim_requests_total{connection="acme",operation="POST /Users",status="201"} 1');
    expect(text).toContain('scim_bridge_scim_requests_total{connection="acme",operation="GET /Users/:id",status="404"} 1');
    expect(text).toMatch(/scim_bridge_scim_request_duration_seconds_bucket\{le="0\.005",connection="acme",operation="GET \/Users\/:id",status="200"\} \d/);
    expect(text).toMatch(/scim_bridge_delivery_call_duration_seconds_count\{connection="acme",action="create",outcome="ok",status="201"\} 1/);
    expect(text).toMatch(/scim_bridge_delivery_call_duration_seconds_count\{connection="acme",action="lookup",outcome="ok",status="200"\} 1/);
    expect(text).toMatch(/scim_bridge_queue_jobs\{connection="acme",state="completed"\} 1/);
    expect(text).toMatch(/scim_bridge_queue_oldest_waiting_seconds\{connection="acme"\} 0/);
    expect(text).toMatch(/scim_bridge_queue_rate_limited\{connection="acme"\} 0/);
    // The delivered write's outbox entry was relayed and acknowledged.
    expect(text).toMatch(/scim_bridge_outbox_entries\{connection="acme"\} 0/);
    expect(text).toContain('scim_bridge_redis_up 1');
    expect(text).toMatch(/scim_bridge_redis_rtt_seconds \d/);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).not.toContain('@example.com');
  });

  it('exports every metric the Grafana dashboard and the alert rules use', async () => {
    const exported = exportedNames(await scrape());
    for (const file of ['grafana-dashboard.json', 'prometheus-alerts.yaml']) {
      const used = usedNames(readFileSync(new URL(`../../docs/${file}`, import.meta.url), 'utf8'));
      expect(used.size, file).toBeGreaterThan(3);
      expect([...used].filter((name) => !exported.has(name)), file).toEqual([]);
    }
  });

  it('reports per-component readiness on /readyz', async () => {
    const res = await fetch(`${fx.bridge.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      redis: { status: 'ok', rttMs: expect.any(Number) },
      connections: [{ id: 'acme', mapping: { status: 'ok', name: 'sample-legacy' }, queue: { status: 'ok', paused: false }, worker: { status: 'ok' } }],
    });
  });

  it('serves /livez and /readyz on the ops listener without credentials, and /metrics with a scrape token', async () => {
    const opsUrl = worker.bridge.opsUrl!;
    expect(opsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${opsUrl}/livez`)).status).toBe(200);
    const ready = await fetch(`${opsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { connections: Array<{ worker: { status: string } }> }).connections[0]!.worker.status).toBe('ok');
    const refused = await fetch(`${opsUrl}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="scim-bridge admin"');
    expect(await refused.text()).not.toContain('scim_bridge');
    const metrics = await fetch(`${opsUrl}/metrics`, { headers: scrapeAuth });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('scim_bridge_queue_jobs');
    // Anything else there is a SCIM error, as on the main listener.
    const unknown = await fetch(`${opsUrl}/admin/queues`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(await unknown.json()).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
    // The main listener serves no /metrics then (and no admin routes without admin config).
    expect((await fetch(`${worker.bridge.url}/metrics`)).status).toBe(404);
  });

  it('serves /metrics without credentials only when metrics.public says so', async () => {
    const metrics = await fetch(`${open.bridge.opsUrl!}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('scim_bridge_queue_jobs');
  });

  it('does not serve /metrics at all when nobody may read it', async () => {
    // No admin, no scrape token, not public: the ops listener has only its probes.
    const none = await startBridgeFixture('metricsn', { worker: true, config: { metrics: { listen: { host: '127.0.0.1', port: 0 } } } });
    try {
      expect((await fetch(`${none.bridge.opsUrl!}/metrics`)).status).toBe(404);
      expect((await fetch(`${none.bridge.opsUrl!}/livez`)).status).toBe(200);
    } finally {
      await none.close();
    }
  });
});
