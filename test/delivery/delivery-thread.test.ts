import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';

/**
 * `serve` on a machine with several CPUs runs the workers on a delivery thread (delivery/thread.ts).
 * A real bridge with its thread, the real sample legacy API and real Redis: a change accepted by
 * the API reaches the target from the thread, the main thread's /metrics and /readyz report the
 * thread's work, the shutdown stops the thread, and a thread that stops on its own is reported.
 */

const user = (name: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName: name,
  emails: [{ type: 'work', primary: true, value: name }],
  active: true,
});

describe('the delivery thread of a process running API and workers', () => {
  let f: BridgeFixture;
  beforeAll(async () => {
    f = await startBridgeFixture('dthread', { workerThread: true, config: { metrics: { public: true } } });
  });
  afterAll(() => f.close());

  it('delivers what the API accepted, from a thread of its own', async () => {
    expect(f.bridge.deliveryThread?.worker.threadId).toBeGreaterThan(0);
    const created = await f.scim('POST', '/Users', user('ada@example.com'));
    expect(created.status).toBe(201);
    const accounts = await eventually(async () => {
      const listed = (await f.legacy.get('/api/v1/accounts')) as { data: Array<{ login: string }> };
      return listed.data.some((a) => a.login === 'ada@example.com') ? listed.data : undefined;
    });
    expect(accounts?.map((a) => a.login)).toEqual(['ada@example.com']);
  });

  it("serves the thread's delivery metrics on the main thread's /metrics, once", async () => {
    const origin = new URL(f.tenantUrl).origin;
    const text = await eventually(async () => {
      const body = await (await fetch(`${origin}/metrics`)).text();
      return /scim_bridge_delivery_attempts_total\{connection="acme",outcome="delivered"\} [1-9]/.test(body) ? body : undefined;
    });
    expect(text).toMatch(/scim_bridge_delivery_call_duration_seconds_count\{[^}]*connection="acme"/);
    expect(text?.match(/^process_cpu_seconds_total /gm)).toHaveLength(1);
  });

  it("reports the thread's worker on /readyz", async () => {
    const origin = new URL(f.tenantUrl).origin;
    const health = (await (await fetch(`${origin}/readyz`)).json()) as { connections: Array<{ id: string; worker: { status: string } }> };
    expect(health.connections.find((c) => c.id === 'acme')?.worker.status).toBe('ok');
  });
});

describe('a delivery thread that stops on its own', () => {
  it('settles `failed` and turns /readyz to not ready', async () => {
    const f = await startBridgeFixture('dthreadx', { workerThread: true });
    try {
      const thread = f.bridge.deliveryThread!;
      await thread.worker.terminate();
      await expect(f.bridge.failed).resolves.toBeInstanceOf(Error);
      const health = await fetch(`${new URL(f.tenantUrl).origin}/readyz`);
      expect(health.status).toBe(503);
    } finally {
      await f.close();
    }
  });
});
