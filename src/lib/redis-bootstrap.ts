import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * Finds a Redis for the demo: `REDIS_URL` or the local default if it answers, otherwise a
 * private `redis-server` on a free loopback port when the binary is installed. Production never
 * uses this: `serve` and `worker` take Redis from the config.
 */

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface DemoRedis {
  url: string;
  /** Set when we started a private server; stop it on exit. */
  child?: ChildProcess;
  stop(): Promise<void>;
}

export async function redisAnswers(url: string, timeoutMs = 1_500): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function findOrStartRedis(env: NodeJS.ProcessEnv = process.env): Promise<DemoRedis> {
  const url = env.REDIS_URL || DEFAULT_REDIS_URL;
  if (await redisAnswers(url)) return { url, stop: async () => {} };
  if (env.REDIS_URL) {
    throw new Error(`Redis at REDIS_URL (${redact(url)}) does not answer: start it, or unset REDIS_URL to use ${DEFAULT_REDIS_URL}.`);
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(
      `No Redis answers at ${DEFAULT_REDIS_URL} and no redis-server is installed: install Redis 7 (e.g. apt-get install redis-server) or set REDIS_URL=redis://host:port.`,
    );
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const privateUrl = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(privateUrl, 200)) {
      return {
        url: privateUrl,
        child,
        stop: async () => {
          child.kill('SIGTERM');
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('Started a private redis-server but it did not answer within 5 s.');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A Redis URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
