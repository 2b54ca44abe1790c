import { randomBytes } from 'node:crypto';
import { startBridge, type RunningBridge, type StartOptions } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { SAMPLE_MAPPING } from '../helpers/bridge.js';
import { deleteByPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { Redis } from 'ioredis';

/**
 * Shared pieces of the SCIM API component tests: a small fetch-based SCIM client and an
 * API-only bridge (no worker, no legacy target) with as many connections and secrets as a test
 * needs, on a unique Redis prefix.
 */

import { expect } from 'vitest';
import { SCHEMA_ERROR as SCHEMA_ERROR_URN, SCHEMA_GROUP, SCHEMA_USER } from '../../src/scim/types.js';

export {
  SCHEMA_ERROR,
  SCHEMA_USER,
  SCHEMA_GROUP,
  SCHEMA_PATCH_OP as SCHEMA_PATCH,
  SCHEMA_ENTERPRISE_USER as ENTERPRISE,
} from '../../src/scim/types.js';

export interface ScimResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field in tests
  body: any;
  text: string;
  headers: Headers;
}

export interface ScimClient {
  /** Tenant URL, e.g. http://127.0.0.1:4321/acme/scim/v2 */
  url: string;
  /**
   * Sends a SCIM request with the client's bearer secret. A string body is sent as is (for bad
   * JSON); `headers` may override or remove (`undefined`) the authorization header.
   */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string | undefined>): Promise<ScimResponse>;
}

export function scimClient(url: string, secret: string): ScimClient {
  return {
    url,
    async request(method, path, body, headers = {}) {
      const merged: Record<string, string | undefined> = {
        authorization: `Bearer ${secret}`,
        ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
        ...headers,
      };
      const sent = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
      const res = await fetch(`${url}${path}`, {
        method,
        headers: sent,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
  };
}

export interface ApiBridge {
  bridge: RunningBridge;
  /** The Redis key prefix of this bridge. */
  prefix: string;
  config: BridgeConfig;
  /** One client per connection, keyed by connection id, using that connection's first secret. */
  clients: Record<string, ScimClient>;
  /** Every secret per connection id. */
  secrets: Record<string, string[]>;
  close(): Promise<void>;
}

export interface ApiBridgeOptions {
  /** Connection ids with how many secrets each accepts, further `auth` settings, and optional config keys (e.g. `extensions`). */
  connections: { id: string; secrets?: number; auth?: Record<string, unknown>; extra?: Record<string, unknown> }[];
  /** Overrides of config `limits`. */
  limits?: Record<string, number>;
  /** Redis URL; the shared test Redis by default. */
  redisUrl?: string;
  start?: Pick<StartOptions, 'worker'>;
}

/**
 * An API-only bridge on 127.0.0.1:0. The target URL points at a closed loopback port because
 * no worker runs: these tests look at the SCIM answers and the store, not at delivery.
 */
export async function startApiBridge(label: string, options: ApiBridgeOptions): Promise<ApiBridge> {
  const prefix = `sbtest-${label}-${randomBytes(4).toString('hex')}`;
  const redisUrl = options.redisUrl ?? TEST_REDIS_URL;
  const secrets = Object.fromEntries(
    options.connections.map((c) => [c.id, Array.from({ length: c.secrets ?? 1 }, () => randomBytes(16).toString('hex'))]),
  );
  const config = configFromObject({
    redis: { url: redisUrl, prefix },
    logLevel: 'silent',
    ...(options.limits ? { limits: options.limits } : {}),
    connections: options.connections.map((c) => ({
      id: c.id,
      auth: { bearer: secrets[c.id], ...c.auth },
      target: { baseUrl: 'http://127.0.0.1:9', auth: { type: 'none' } },
      mapping: SAMPLE_MAPPING,
      ...c.extra,
    })),
  });
  const bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: options.start?.worker ?? false });
  const clients = Object.fromEntries(
    config.connections.map((c) => [c.id, scimClient(`${bridge.url}${c.basePath}`, secrets[c.id]?.[0] ?? '')]),
  );
  return {
    bridge,
    prefix,
    config,
    clients,
    secrets,
    async close() {
      await bridge.close();
      const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      redis.on('error', () => {});
      try {
        await redis.connect();
        await deleteByPrefix(redis, prefix);
      } catch {
        // A private Redis that a test stopped on purpose holds nothing to clean up.
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** A minimal valid user, with its userName as work email. */
export function userBody(userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemas: [SCHEMA_USER],
    userName,
    active: true,
    emails: [{ primary: true, type: 'work', value: userName }],
    name: { givenName: 'Test', familyName: 'User' },
    ...extra,
  };
}

export function groupBody(displayName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: [SCHEMA_GROUP], displayName, ...extra };
}

/** A short random tag that keeps names unique across tests sharing one bridge. */
export function tag(): string {
  return randomBytes(3).toString('hex');
}

/**
 * The shape every SCIM error answer has (RFC 7644 §3.12): `application/scim+json`, the Error
 * schema, the status as a string, a string detail, and no stack trace.
 */
export function expectScimErrorShape(res: ScimResponse, status: number, scimType?: string): void {
  expect(res.status, res.text.slice(0, 500)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(res.body?.schemas).toEqual([SCHEMA_ERROR_URN]);
  expect(res.body.status).toBe(String(status));
  if (scimType) expect(res.body.scimType).toBe(scimType);
  expect(typeof res.body.detail).toBe('string');
  expect(res.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
}
