import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startSampleLegacyApi } from '../../examples/sample-legacy-api/app.js';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { createRedisClient } from '../../src/lib/redis-connection.js';
import { deleteByPrefix, TEST_REDIS_URL } from './redis.js';

export const SAMPLE_MAPPING = fileURLToPath(new URL('../../mappings/sample-legacy.yaml', import.meta.url));

/**
 * A real bridge (API + worker, listening on 127.0.0.1:0) in front of the real sample legacy API,
 * on real Redis under a prefix unique to the caller. `close()` stops both and deletes the keys.
 */
export interface BridgeFixture {
  bridge: RunningBridge;
  config: BridgeConfig;
  /** Tenant URL of the connection, e.g. http://127.0.0.1:4321/acme/scim/v2 */
  tenantUrl: string;
  secret: string;
  legacy: { url: string; token: string; get(path: string): Promise<unknown>; send(method: string, path: string, body?: unknown): Promise<Response> };
  scim(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field in tests
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export interface BridgeFixtureOverrides {
  connectionId?: string;
  worker?: boolean;
  /** Redis to use instead of the test Redis (a private Cluster or Sentinel URL). */
  redisUrl?: string;
  /** Top-level config keys to add or replace (admin, metrics, timeline…). */
  config?: Record<string, unknown>;
  /** Keys to add or replace in the connection (displayName, delivery…). */
  connection?: Record<string, unknown>;
}

export async function startBridgeFixture(label: string, overrides: BridgeFixtureOverrides = {}): Promise<BridgeFixture> {
  const redisUrl = overrides.redisUrl ?? TEST_REDIS_URL;
  const legacyToken = randomBytes(12).toString('hex');
  const legacy = await startSampleLegacyApi({ token: legacyToken });
  const secret = randomBytes(16).toString('hex');
  const prefix = `sbtest-${label}-${randomBytes(4).toString('hex')}`;
  const id = overrides.connectionId ?? 'acme';
  const config = configFromObject({
    redis: { url: redisUrl, prefix },
    logLevel: 'silent',
    connections: [
      {
        id,
        auth: { bearer: [secret] },
        target: { baseUrl: legacy.url, auth: { type: 'bearer', token: legacyToken }, timeoutMs: 2000 },
        mapping: SAMPLE_MAPPING,
        delivery: { attempts: 5, backoffMs: 20, maxBackoffMs: 200 },
        ...overrides.connection,
      },
    ],
    ...overrides.config,
  });
  const bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: overrides.worker ?? true });
  const tenantUrl = `${bridge.url}/${id}/scim/v2`;
  const legacyHeaders = { authorization: `Bearer ${legacyToken}`, 'content-type': 'application/json' };
  return {
    bridge,
    config,
    tenantUrl,
    secret,
    legacy: {
      url: legacy.url,
      token: legacyToken,
      async get(path) {
        const res = await fetch(`${legacy.url}${path}`, { headers: legacyHeaders });
        return res.json();
      },
      send(method, path, body) {
        return fetch(`${legacy.url}${path}`, { method, headers: legacyHeaders, body: body === undefined ? undefined : JSON.stringify(body) });
      },
    },
    async scim(method, path, body, headers = {}) {
      const res = await fetch(`${tenantUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${secret}`,
          ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async close() {
      await bridge.close();
      await legacy.close();
      const redis = createRedisClient(redisUrl);
      await deleteByPrefix(redis, prefix);
      await redis.quit();
    },
  };
}

/** Polls `probe` until it returns a truthy value or the bound passes; returns the last value. */
export async function eventually<T>(probe: () => Promise<T>, { timeoutMs = 15_000, intervalMs = 50 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!last && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    last = await probe();
  }
  return last;
}
