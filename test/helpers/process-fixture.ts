import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { configFromObject } from '../../src/config/load.js';
import { createDeliveryQueue, type DeliveryQueue } from '../../src/delivery/queues.js';
import { bullPrefix, storePrefix } from '../../src/runtime.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { ResourceStore } from '../../src/store/types.js';
import { spawnCli, type CliProcess } from '../cli/spawn-cli.js';
import { deleteByPrefix } from './redis.js';

/**
 * A bridge config on disk for tests that run `scim-bridge serve` / `worker` as real processes
 * (shutdown, stalled jobs, chaos), plus in-test handles on the same Redis keys: the store and the
 * delivery queue of the connection, so a test can seed work and watch the queue.
 */

export interface ProcessFixtureOptions {
  redisUrl: string;
  targetUrl: string;
  mapping: string;
  /** Merged into the connection's `delivery` section. */
  delivery?: Record<string, unknown>;
  /** Merged into the connection's `target` section. */
  target?: Record<string, unknown>;
  shutdownGraceMs?: number;
  connectionId?: string;
}

export interface ProcessFixture {
  dir: string;
  configFile: string;
  prefix: string;
  connectionId: string;
  secret: string;
  /** A Redis client for the test itself (not for the children). */
  redis: Redis;
  store: ResourceStore;
  queue: DeliveryQueue;
  spawn(command: 'serve' | 'worker', extraArgs?: string[]): CliProcess;
  close(): Promise<void>;
}

export async function createProcessFixture(label: string, options: ProcessFixtureOptions): Promise<ProcessFixture> {
  const dir = await mkdtemp(join(tmpdir(), `scim-bridge-${label}-`));
  const prefix = `sbtest-${label}-${randomBytes(4).toString('hex')}`;
  const connectionId = options.connectionId ?? 'acme';
  const secret = randomBytes(16).toString('hex');
  const raw = {
    listen: { host: '127.0.0.1', port: 0 },
    redis: { url: '${env:REDIS_URL}', prefix },
    logLevel: 'warn',
    shutdown: { graceMs: options.shutdownGraceMs ?? 10_000 },
    connections: [
      {
        id: connectionId,
        auth: { bearer: ['${env:SCIM_SECRET}'] },
        target: { baseUrl: options.targetUrl, timeoutMs: 2_000, ...options.target },
        mapping: 'mapping.yaml',
        delivery: { attempts: 30, backoffMs: 50, maxBackoffMs: 500, ...options.delivery },
      },
    ],
  };
  await writeFile(join(dir, 'mapping.yaml'), options.mapping);
  // JSON is YAML: the config is written as JSON to keep the object above the single source.
  const configFile = join(dir, 'bridge.yaml');
  await writeFile(configFile, JSON.stringify(raw, null, 2));
  const config = configFromObject({ ...raw, redis: { url: options.redisUrl, prefix }, connections: raw.connections.map((c) => ({ ...c, auth: { bearer: [secret] }, mapping: join(dir, 'mapping.yaml') })) });

  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const store = createRedisStore(redis, { prefix: storePrefix(config, connectionId) });
  const queue = createDeliveryQueue(connectionId, { connection: redis, prefix: bullPrefix(config), delivery: config.connections[0]!.delivery });
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: options.redisUrl, SCIM_SECRET: secret, LOG_LEVEL: 'warn' };
  delete env.SCIM_BRIDGE_CONFIG;

  return {
    dir,
    configFile,
    prefix,
    connectionId,
    secret,
    redis,
    store,
    queue,
    spawn: (command, extraArgs = []) => spawnCli([command, '--config', configFile, ...extraArgs], env),
    async close() {
      await queue.close();
      await deleteByPrefix(redis, prefix).catch(() => undefined);
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
