import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { redisAnswers } from '../../src/lib/redis-bootstrap.js';
import { checkRedisSettings } from '../../src/runtime.js';
import { eventually } from '../helpers/bridge.js';

/** Private redis-servers with chosen settings; the machine's shared Redis is left alone. */
const started: { child: ChildProcess; dir: string; client: Redis }[] = [];

async function privateRedis(args: string[]): Promise<Redis> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as { port: number };
      s.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-settings-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...args], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  expect(await eventually(() => redisAnswers(url, 200), { timeoutMs: 10_000 })).toBe(true);
  const client = new Redis(url);
  started.push({ child, dir, client });
  return client;
}

afterEach(async () => {
  for (const { child, dir, client } of started.splice(0)) {
    client.disconnect();
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('Redis settings check at start', () => {
  it('warns about eviction and missing persistence', async () => {
    const redis = await privateRedis(['--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru']);
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
