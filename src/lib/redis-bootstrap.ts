import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  /** Stops a private server and resolves once it has exited; a no-op for a Redis we found. */
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

export interface FindRedisOptions {
  /** Where to look when `REDIS_URL` is unset; tests point it at a port where nothing listens. */
  defaultUrl?: string;
}

export async function findOrStartRedis(env: NodeJS.ProcessEnv = process.env, options: FindRedisOptions = {}): Promise<DemoRedis> {
  const defaultUrl = options.defaultUrl ?? DEFAULT_REDIS_URL;
  const url = env.REDIS_URL || defaultUrl;
  if (await redisAnswers(url)) return { url, stop: async () => {} };
  if (env.REDIS_URL) {
    throw new Error(
      `No Redis answers at REDIS_URL (${redact(url)}): start Redis 7 there, set REDIS_URL=redis://host:port to a running one, or unset REDIS_URL to use ${defaultUrl}.`,
    );
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(
      `No Redis answers at ${defaultUrl} and no redis-server is installed: install Redis 7 (e.g. apt-get install redis-server) or set REDIS_URL=redis://host:port.`,
    );
  }
  return startPrivateRedis();
}

/**
 * A throw-away `redis-server` on a free loopback port, keeping nothing on disk. Used by the demo
 * when no Redis answers, and by tests that need a Redis they may stop or configure.
 */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<DemoRedis & { child: ChildProcess }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) return { url, child, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await stop();
  throw new Error('Started a private redis-server but it did not answer within 5 s.');
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
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
