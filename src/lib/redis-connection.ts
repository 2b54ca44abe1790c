import { Cluster, Redis, type RedisOptions } from 'ioredis';

/**
 * One place that turns `redis.url` into a client, for the three shapes Redis is deployed in:
 *
 * | URL                                                    | deployment                                   |
 * |--------------------------------------------------------|----------------------------------------------|
 * | `redis://[user:pass@]host:port[/db]`, `rediss://…`     | a single server (TLS with `rediss`)          |
 * | `redis+cluster://[user:pass@]host:port,host:port,…`     | Redis Cluster: any reachable nodes as seeds  |
 * | `redis+sentinel://[user:pass@]host:port,…/<master>`    | Sentinel: the sentinels and the master name  |
 *
 * `rediss+cluster://` and `rediss+sentinel://` add TLS. In Cluster mode every key of one
 * connection shares a hash tag (`src/runtime.ts`), so the multi-key store scripts and BullMQ's
 * scripts always run inside one slot.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
 * @see https://docs.bullmq.io/bull/patterns/redis-cluster
 */

/**
 * Both clients answer the same commands, pipelines and `defineCommand` scripts, which is all
 * the bridge uses; SCANs must go through `scanEach` to reach every Cluster master.
 */
export type RedisClient = Redis;

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisTarget {
  kind: 'standalone' | 'cluster' | 'sentinel';
  /** Seed nodes (cluster) or sentinels (sentinel); the server itself for standalone. */
  nodes: HostPort[];
  /** Sentinel master name. */
  masterName?: string;
  username?: string;
  password?: string;
  tls: boolean;
  db?: number;
}

const SCHEME = /^(rediss?)(\+cluster|\+sentinel)?:\/\/(.*)$/;

export function parseRedisUrl(url: string): RedisTarget {
  const match = SCHEME.exec(url);
  if (!match) throw new TypeError('a Redis URL starts with redis://, rediss://, redis+cluster:// or redis+sentinel://');
  const [, scheme, mode, rest] = match;
  const tls = scheme === 'rediss';
  if (!mode) {
    const parsed = new URL(url);
    return {
      kind: 'standalone',
      nodes: [{ host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) }],
      ...credentials(parsed.username, parsed.password),
      tls,
      ...(parsed.pathname.length > 1 ? { db: Number(parsed.pathname.slice(1)) } : {}),
    };
  }
  const at = rest!.lastIndexOf('@');
  const auth = at >= 0 ? rest!.slice(0, at) : '';
  const afterAuth = at >= 0 ? rest!.slice(at + 1) : rest!;
  const slash = afterAuth.indexOf('/');
  const hostList = slash >= 0 ? afterAuth.slice(0, slash) : afterAuth;
  const path = slash >= 0 ? afterAuth.slice(slash + 1) : '';
  const nodes = hostList.split(',').filter(Boolean).map(parseHostPort);
  if (nodes.length === 0) throw new TypeError('name at least one host:port');
  const [user, pass] = auth.includes(':') ? [auth.slice(0, auth.indexOf(':')), auth.slice(auth.indexOf(':') + 1)] : ['', auth];
  if (mode === '+sentinel') {
    if (!path) throw new TypeError('a Sentinel URL ends with the master name: redis+sentinel://host:port/mymaster');
    return { kind: 'sentinel', nodes, masterName: decodeURIComponent(path), ...credentials(user, pass), tls };
  }
  return { kind: 'cluster', nodes, ...credentials(user, pass), tls };
}

/** Builds (without connecting, when `lazyConnect` is set) the client `url` describes. */
export function createRedisClient(url: string, options: RedisOptions & { enableAutoPipelining?: boolean } = {}): RedisClient {
  const target = parseRedisUrl(url);
  const auth = { ...(target.username ? { username: target.username } : {}), ...(target.password ? { password: target.password } : {}) };
  const tls = target.tls ? { tls: {} } : {};
  if (target.kind === 'standalone') return new Redis(url, options);
  if (target.kind === 'sentinel') {
    return new Redis({ ...options, ...auth, ...tls, sentinels: target.nodes, name: target.masterName!, ...(target.tls ? { sentinelTLS: {}, enableTLSForSentinelMode: true } : {}) });
  }
  const { enableAutoPipelining, enableOfflineQueue, lazyConnect, retryStrategy, ...redisOptions } = options;
  const cluster = new Cluster(target.nodes, {
    redisOptions: { ...redisOptions, ...auth, ...tls },
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(retryStrategy ? { clusterRetryStrategy: (attempt: number) => retryStrategy(attempt) } : {}),
  });
  // ioredis's Cluster has Redis's command interface (see RedisClient): one cast, here.
  return cluster as unknown as RedisClient;
}

export function isCluster(client: RedisClient): boolean {
  return (client as unknown) instanceof Cluster;
}

/**
 * Runs a SCAN MATCH over every master (one server outside Cluster) and hands each page of keys
 * to `onKeys` with the node that holds them. One page may span hash slots, so `onKeys` must
 * not send them in one multi-key command (see `deleteMatching`).
 */
export async function scanEach(client: RedisClient, pattern: string, onKeys: (node: RedisClient, keys: string[]) => Promise<void>): Promise<void> {
  const nodes = isCluster(client) ? await clusterMasters(client as unknown as Cluster) : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await onKeys(node, keys);
    } while (cursor !== '0');
  }
}

/** The masters of a Cluster client, once it knows the slot map (it learns it on connect). */
async function clusterMasters(cluster: Cluster): Promise<RedisClient[]> {
  if (cluster.status === 'wait') await cluster.connect();
  else if (cluster.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      cluster.once('end', () => reject(new Error('the Redis Cluster connection ended')));
    });
  }
  return cluster.nodes('master');
}

function parseHostPort(value: string): HostPort {
  const colon = value.lastIndexOf(':');
  if (colon <= 0) return { host: value, port: 6379 };
  const port = Number(value.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new TypeError(`bad port in ${value}`);
  return { host: value.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}

function credentials(username: string, password: string): { username?: string; password?: string } {
  return {
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
}
