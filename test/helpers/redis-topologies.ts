import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAnswers } from '../../src/lib/redis-bootstrap.js';

/**
 * Private Redis topologies on loopback, started from the machine's `redis-server`: one
 * standalone server, a three-master Cluster and a master watched by one Sentinel. Nothing is kept on disk past stop().
 */

export interface Topology {
  /** The URL the bridge is configured with (`redis+cluster://…`, `redis+sentinel://…`). */
  url: string;
  /** Plain URLs of the data nodes (for checks that talk to one node directly). */
  nodes: string[];
  stop(): Promise<void>;
}

function startServer(args: string[], dir: string): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn('redis-server', args, { stdio: 'ignore', cwd: dir });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return { child, exited };
}

async function waitUntil(probe: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

async function stopAll(servers: Array<{ child: ChildProcess; exited: Promise<void> }>, dir: string): Promise<void> {
  for (const { child } of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
  rmSync(dir, { recursive: true, force: true });
}

/** One private standalone redis-server (for checks that watch every command, e.g. MONITOR). */
export async function startRedisStandalone(): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-standalone-'));
  const port = await freePort();
  const server = startServer(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitUntil(() => redisAnswers(url, 200), `redis-server ${url} answering`);
  } catch (err) {
    await stopAll([server], dir);
    throw err;
  }
  return { url, nodes: [url], stop: () => stopAll([server], dir) };
}

export async function startRedisCluster(masters = 3): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-cluster-'));
  const ports = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const servers = ports.map((port) =>
    startServer(
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no', '--dir', dir],
      dir,
    ),
  );
  const nodes = ports.map((port) => `redis://127.0.0.1:${port}`);
  try {
    for (const url of nodes) await waitUntil(() => redisAnswers(url, 200), `redis-server ${url} answering`);
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const url of nodes) await waitUntil(() => clusterOk(url), `cluster state ok on ${url}`);
  } catch (err) {
    await stopAll(servers, dir);
    throw err;
  }
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    nodes,
    stop: () => stopAll(servers, dir),
  };
}

async function clusterOk(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = (await client.call('CLUSTER', 'INFO')) as string;
    return info.includes('cluster_state:ok');
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function startRedisSentinel(masterName = 'bridge-master'): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-sentinel-'));
  const [masterPort, sentinelPort] = [await freePort(), await freePort()];
  const master = startServer(['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${masterName} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel = startServer([config, '--sentinel'], dir);
  const servers = [master, sentinel];
  const masterUrl = `redis://127.0.0.1:${masterPort}`;
  try {
    await waitUntil(() => redisAnswers(masterUrl, 200), 'the Sentinel master answering');
    await waitUntil(() => redisAnswers(`redis://127.0.0.1:${sentinelPort}`, 200), 'the Sentinel answering');
  } catch (err) {
    await stopAll(servers, dir);
    throw err;
  }
  return { url: `redis+sentinel://127.0.0.1:${sentinelPort}/${masterName}`, nodes: [masterUrl], stop: () => stopAll(servers, dir) };
}
