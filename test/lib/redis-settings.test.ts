import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startPrivateRedis, type DemoRedis } from '../../src/lib/redis-bootstrap.js';
import { checkRedisSettings } from '../../src/runtime.js';

/** Private redis-servers with chosen settings; the machine's shared Redis is left alone. */
const started: { server: DemoRedis; client: Redis }[] = [];

async function privateRedis(args: string[]): Promise<Redis> {
  const server = await startPrivateRedis(args);
  const client = new Redis(server.url);
  started.push({ server, client });
  return client;
}

afterEach(async () => {
  for (const { server, client } of started.splice(0)) {
    client.disconnect();
    await server.stop();
  }
});

describe('Redis settings check at start', () => {
  it('warns about eviction and missing persistence', async () => {
    const redis = await privateRedis(['--maxmemory-policy', 'allkeys-lru']);
    const warnings = await checkRedisSettings(redis);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/maxmemory-policy is "allkeys-lru": set it to "noeviction"/);
    expect(warnings[1]).toMatch(/appendonly\) is off/);
  });

  it('is quiet for a production-ready Redis', async () => {
    const redis = await privateRedis(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']);
    expect(await checkRedisSettings(redis)).toEqual([]);
  });
});
