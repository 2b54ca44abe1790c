import { queueName } from '../../../src/delivery/types.js';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { startBridge, type RunningBridge } from '../../../src/bridge.js';
import { configFromObject } from '../../../src/config/load.js';
import { TEST_REDIS_URL, dropPrefix } from '../../helpers/redis.js';

/**
 * A running bridge (API + worker, real Redis) with one connection using an example mapping of
 * mappings/examples/, and an Entra-shaped SCIM client for it.
 */

export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface ExampleBridge {
  bridge: RunningBridge;
  /** The Redis key prefix of this run (BullMQ under `<prefix>:{bull}`). */
  prefix: string;
  /** Sends a SCIM request as Entra would; returns status and parsed body. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field
  scim(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Reasons of the jobs that failed (or wait for a retry), to show when a test does not settle. */
  failures(): Promise<string[]>;
  close(): Promise<void>;
}

export function exampleMapping(name: string): string {
  return fileURLToPath(new URL(`../../../mappings/examples/${name}.yaml`, import.meta.url));
}

export async function startExampleBridge(mapping: string, target: Record<string, unknown>): Promise<ExampleBridge> {
  const secret = randomBytes(16).toString('hex');
  const prefix = `sbtest-example-${randomBytes(4).toString('hex')}`;
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    connections: [
      {
        id: 'app',
        auth: { bearer: [secret] },
        target: { timeoutMs: 2000, ...target },
        mapping: exampleMapping(mapping),
        delivery: { attempts: 8, backoffMs: 20, maxBackoffMs: 200 },
      },
    ],
  });
  const bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false });
  const tenantUrl = `${bridge.url}/app/scim/v2`;
  return {
    bridge,
    prefix,
    async scim(method, path, body) {
      const res = await fetch(`${tenantUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async failures() {
      const queue = new Queue(queueName('app'), { connection: { url: TEST_REDIS_URL }, prefix: `${prefix}:{bull}` });
      try {
        return (await queue.getJobs(['failed', 'delayed'])).map((job) => `${job.id}: ${job.failedReason}`);
      } finally {
        await queue.close();
      }
    },
    async close() {
      await bridge.close();
      await dropPrefix(prefix);
    },
  };
}

/** Polls until `probe` deep-equals `expected` (bounded), then returns the last value seen. */
export async function settle<T>(probe: () => T | Promise<T>, expected: T, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await probe();
  }
  return last;
}

/** Entra's PATCH body for a list of operations. */
export function patch(...operations: Array<{ op: string; path?: string; value?: unknown }>) {
  return { schemas: [PATCH_OP], Operations: operations };
}
