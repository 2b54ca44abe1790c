import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createConnectionAuth, type ConnectionAuth } from './auth/connection-auth.js';
import { createLiveConfig, type LiveConfig } from './config/live.js';
import { ConfigError, formatIssue, loadConfig } from './config/load.js';
import { mergeReloadable, type ConfigChange } from './config/reload.js';
import type { BridgeConfig, ConnectionConfig } from './config/schema.js';
import { watchConfigFile, type ConfigWatcher } from './config/watch.js';
import { createConfirmWaiter, type ConfirmWaiter } from './delivery/confirm-waiter.js';
import { createDeliveryQueue, type DeliveryQueue } from './delivery/queues.js';
import type { DeliveryLogger } from './delivery/logger.js';
import { startOutboxRelay, type OutboxRelay } from './delivery/outbox-relay.js';
import { createTargetClient } from './delivery/http-client.js';
import { reconcile } from './delivery/reconcile.js';
import { startReconcileSchedule, type ReconcileSchedule } from './delivery/reconcile-schedule.js';
import { readGateStatus } from './delivery/connection-gate.js';
import { startDeliveryWorker, type DeliveryWorker } from './delivery/worker.js';
import { createRedisClient } from './lib/redis-connection.js';
import type { RequestCounter } from './api/connection-rate-limit.js';
import { MappingLoadError } from './mapping/errors.js';
import { loadReloadableMapping, loadVersionedMapping, type ReloadablePlan, type VersionedPlan } from './mapping/reloadable.js';
import { watchMappings, type MappingWatcher } from './mapping/watch.js';
import { createProvisioning, type AcceptedChange, type Provisioning } from './provisioning/service.js';
import { createSchemaRegistry } from './scim/schema-registry.js';
import { createRedisStore } from './store/redis-store.js';
import type { ResourceStore } from './store/types.js';
import { createDeliveryObserver } from './ops/delivery-observer.js';
import { createLastOutcomes, type LastOutcomes } from './ops/last-outcome.js';
import { createMetrics, type BridgeMetrics } from './ops/metrics.js';
import { createOps, type Ops } from './ops/service.js';
import { createTimeline, type ScimChangeEvent, type Timeline } from './ops/timeline.js';
import { readHealth, type Health } from './ops/health.js';
import { startBufferReplay, type BufferReplay } from './proxy/buffer-replay.js';
import { createWriteBuffer, type WriteBuffer } from './proxy/write-buffer.js';

/**
 * Everything a process needs per connection (store, mapping plan, queue, use cases), built once
 * from the config. API-only and worker-only processes build the same runtime; only the API
 * serves HTTP and only the worker role starts BullMQ workers.
 */

export interface ConnectionRuntime {
  /** The connection's configuration in effect (reloadable parts change with a config reload). */
  readonly config: ConnectionConfig;
  store: ResourceStore;
  /** Hot-reloadable: see watchMappings. */
  plan: ReloadablePlan;
  queue: DeliveryQueue;
  provisioning: Provisioning;
  /** The resources' histories (SCIM changes and delivery attempts). */
  timeline: Timeline;
  /** The connection's latest delivery success and failure. */
  last: LastOutcomes;
}

/** A `mode: proxy` connection: no store or mapping, but a timeline of its proxied writes. */
export interface ProxyRuntime {
  config: ConnectionConfig;
  timeline: Timeline;
  /** The write buffer, when `proxy.buffer.writes` is on. */
  buffer?: WriteBuffer;
}

export interface Runtime {
  connections: ConnectionRuntime[];
  /** The `mode: proxy` connections. */
  proxies: ProxyRuntime[];
  proxy(id: string): ProxyRuntime;
  /** Redis settings that put accepted changes at risk (eviction, no persistence). */
  redisWarnings: string[];
  connection(id: string): ConnectionRuntime;
  /** Who may call a connection (any mode, also `mode: proxy`, which has no ConnectionRuntime). */
  auth(id: string): ConnectionAuth;
  /** Where a connection's inbound `rateLimit` counts requests: in Redis, so every API process shares one allowance. */
  requestCounter(id: string): RequestCounter;
  /** Where failed admin logins are counted (`admin.failedLoginLimit`), shared by every process. */
  adminLoginCounter(): RequestCounter;
  /** The ops use cases (admin API, CLI) over every connection. */
  ops: Ops;
  /** This process's Prometheus metrics. */
  metrics: BridgeMetrics;
  /** True when Redis answers. */
  ping(): Promise<boolean>;
  /** Per-component state for /readyz: Redis, and each connection's mapping, queue and worker. */
  health(): Promise<Health>;
  /** Starts one BullMQ worker per connection in this process. */
  startWorkers(logger: DeliveryLogger): Promise<void>;
  /** Reloads the mapping files on SIGHUP and when they change on disk; stopped by close(). */
  watchMappings(logger: DeliveryLogger): MappingWatcher;
  /** The configuration in effect: the one accessor of the settings a reload may change. */
  live: LiveConfig;
  /**
   * Reads the config file again (config.file) and applies what can change while running
   * (config/reload.ts). An invalid file, or a new mapping file that does not load, is refused
   * and the running config stays.
   */
  reloadConfig(): Promise<ConfigReload>;
  /** Reloads the config file on SIGHUP and when it changes on disk, logging the outcome; stopped by close(). */
  watchConfig(logger: DeliveryLogger): ConfigWatcher | undefined;
  /**
   * Stops the workers (running jobs get `shutdown.graceMs`, then go back to the queue) and
   * closes every connection.
   */
  close(): Promise<void>;
}

/** What a config reload came to. */
export type ConfigReload =
  | { kind: 'unchanged' | 'no-file' }
  | { kind: 'applied'; applied: string[]; restart: string[] }
  /** Nothing reloadable changed, but settings that need a restart did. */
  | { kind: 'restart'; restart: string[] }
  | { kind: 'invalid'; code: string; issues: string[] };

export interface RuntimeOptions {
  /** Overrides config.redis.url (tests, demo). */
  redisUrl?: string;
}

/** How much longer than its wait a first-attempt marker lives in Redis. */
const CONFIRM_MARGIN_MS = 5_000;

/**
 * Key layout: `<prefix>:c:{<connection>}:…` for a connection's store, `<prefix>:{bull}:…` for the
 * BullMQ queues. On Redis Cluster a multi-key script must stay in one hash slot: the store's
 * scripts reach keys they discover while running (a user's groups), so a connection's store keys
 * share the `{<connection>}` tag; BullMQ's scripts need all keys of a queue together, so the
 * queues share the `{bull}` tag (BullMQ's own Cluster advice: a hash tag in the prefix).
 * @see https://docs.bullmq.io/bull/patterns/redis-cluster
 */
export function storePrefix(config: BridgeConfig, connectionId: string): string {
  return `${config.redis.prefix}:c:{${connectionId}}`;
}

export function bullPrefix(config: BridgeConfig): string {
  return `${config.redis.prefix}:{bull}`;
}

export async function createRuntime(config: BridgeConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const redisUrl = options.redisUrl ?? config.redis.url;
  // While Redis is unreachable, commands fail at once (no offline queue) so Entra gets a 503
  // right away instead of a request hanging through reconnect back-off; reconnects keep trying
  // at most a second apart.
  const clientOptions = {
    lazyConnect: true,
    connectTimeout: 5_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
  };
  // Auto-pipelining sends the commands of concurrent requests and jobs in one write.
  const redis = createRedisClient(redisUrl, { ...clientOptions, enableAutoPipelining: true });
  // BullMQ producers share one connection; workers open their own blocking ones.
  const queueConnection = createRedisClient(redisUrl, clientOptions);
  redis.on('error', () => {});
  queueConnection.on('error', () => {});
  await Promise.all([redis.connect(), queueConnection.connect()]);

  const redisWarnings = await checkRedisSettings(redis);
  // first-attempt connections: one subscriber wakes the API requests waiting for a first attempt.
  const confirming = config.connections.filter((c) => c.delivery.confirm.mode === 'first-attempt');
  let waiter: ConfirmWaiter | undefined;
  if (confirming.length > 0) {
    const subscriber = createRedisClient(redisUrl, { ...clientOptions, enableOfflineQueue: true });
    subscriber.on('error', () => {});
    await subscriber.connect();
    waiter = await createConfirmWaiter(
      subscriber,
      confirming.map((c) => `${storePrefix(config, c.id)}:confirm`),
    );
  }
  const live = createLiveConfig(config);
  // Every connection authenticates Entra, whatever its mode. The routes keep one ConnectionAuth
  // for good; a config reload swaps what it delegates to.
  const auths = new Map<string, { current: ConnectionAuth; stable: ConnectionAuth }>();
  for (const connection of config.connections) {
    const holder = { current: await createConnectionAuth(redis, config.redis.prefix, connection) } as { current: ConnectionAuth; stable: ConnectionAuth };
    holder.stable = delegatingAuth(holder);
    auths.set(connection.id, holder);
  }
  const connections: ConnectionRuntime[] = [];
  /** Each connection's outbox relay in this process (only where workers run). */
  const relayOf = new Map<string, OutboxRelay>();
  const proxies: ProxyRuntime[] = [];
  const timelineOf = (connectionId: string) =>
    createTimeline(redis, {
      prefix: storePrefix(config, connectionId),
      maxEntries: config.timeline.maxEntries,
      maxAgeMs: config.timeline.maxAgeHours * 3_600_000,
    });
  for (const connection of config.connections) {
    // A `mode: proxy` connection forwards to its SCIM target: no store, mapping or delivery
    // queue, only the timeline of what passed through.
    if (connection.mappingPath === undefined) {
      const settings = connection.proxy?.buffer;
      const buffer = settings?.writes ? createWriteBuffer(connection.id, { connection: queueConnection, prefix: bullPrefix(config), settings }) : undefined;
      proxies.push({ config: connection, timeline: timelineOf(connection.id), ...(buffer ? { buffer } : {}) });
      continue;
    }
    const id = connection.id;
    const plan = await loadReloadableMapping(connection.mappingPath);
    const store = createRedisStore(redis, { prefix: storePrefix(config, connection.id) });
    // On the store's auto-pipelined client: timeline appends share round trips with store calls.
    const timeline = timelineOf(connection.id);
    const last = createLastOutcomes(redis, storePrefix(config, connection.id));
    const queue = createDeliveryQueue(connection.id, {
      connection: queueConnection,
      prefix: bullPrefix(config),
      delivery: () => live.connection(id).delivery,
    });
    const { confirm } = connection.delivery;
    const channel = `${storePrefix(config, connection.id)}:confirm`;
    const provisioning = createProvisioning({
      connectionId: connection.id,
      store,
      plan,
      schemas: createSchemaRegistry(connection.extensions),
      // Accepted writes wait in the outbox; this process's relay (if it runs workers) looks now.
      notify: () => relayOf.get(id)?.nudge(),
      ...(waiter && confirm.mode === 'first-attempt'
        ? {
            confirm: {
              // The marker outlives the wait a little, so a crashed API's marker still expires.
              ttlMs: confirm.waitMs + CONFIRM_MARGIN_MS,
              expect: (type, id, revision) => waiter.expect(store, channel, type, id, revision, confirm.waitMs),
            },
          }
        : {}),
      limits: config.limits,
      onChange: ({ type, id, ...change }) => timeline.append(type, id, scimEvent(change)),
      // Creates and compare-and-set updates append it in their own write script instead.
      history: ({ type, id, ...change }) => timeline.entry(type, id, scimEvent(change)),
    });
    connections.push({
      get config() {
        return live.connection(id);
      },
      store,
      plan,
      queue,
      provisioning,
      timeline,
      last,
    });
  }

  const ops = createOps(
    connections.map((c) => ({
      id: c.config.id,
      displayName: c.config.displayName,
      get target() {
        return new URL(c.config.target.baseUrl).origin;
      },
      queue: c.queue.queue,
      store: c.store,
      timeline: c.timeline,
      last: c.last,
      gate: () => readGateStatus(redis, storePrefix(config, c.config.id)),
    })),
    proxies.map((p) => ({
      id: p.config.id,
      displayName: p.config.displayName,
      target: new URL(p.config.target.baseUrl).origin,
      timeline: p.timeline,
      ...(p.buffer ? { queue: p.buffer.queue as Queue, bufferMaxAgeMs: p.buffer.settings.maxAgeMs } : {}),
    })),
  );
  const metrics = createMetrics({
    // A proxy connection's queue is its write buffer.
    queues: [
      ...connections.map((c) => ({ connectionId: c.config.id, queue: c.queue.queue as Queue, outbox: () => c.store.outboxSize() })),
      ...proxies.flatMap((p) => (p.buffer ? [{ connectionId: p.config.id, queue: p.buffer.queue as Queue }] : [])),
    ],
    ping: () => redis.ping(),
  });

  const workers: DeliveryWorker[] = [];
  const watchers: MappingWatcher[] = [];
  const configWatchers: ConfigWatcher[] = [];
  const workerOf = new Map<string, DeliveryWorker>();
  const relays: OutboxRelay[] = [];
  const schedules: ReconcileSchedule[] = [];
  const replays: BufferReplay[] = [];
  const replayOf = new Map<string, BufferReplay>();
  /** Whether this process runs the workers (startWorkers was called). */
  let workersStarted = false;
  const byId = new Map(connections.map((c) => [c.config.id, c]));
  /** Mapping files a pending config change names, loaded before it is applied. */
  let preparedMappings = new Map<string, VersionedPlan>();

  // A reloaded config reaches the running parts here: credentials, workers, mappings.
  live.onChange(async (change) => {
    const changed = (id: string, key: string) => change.applied.some((path) => path === `connections.${id}.${key}` || path.startsWith(`connections.${id}.${key}.`));
    for (const connection of change.config.connections) {
      const holder = auths.get(connection.id);
      if (holder && changed(connection.id, 'auth')) holder.current = await createConnectionAuth(redis, config.redis.prefix, connection);
      const worker = workerOf.get(connection.id);
      if (worker && (changed(connection.id, 'target') || changed(connection.id, 'delivery'))) {
        worker.reconfigure({ target: connection.target, delivery: connection.delivery });
      }
      const prepared = preparedMappings.get(connection.id);
      if (prepared) byId.get(connection.id)?.plan.replace(prepared);
    }
    preparedMappings = new Map();
    for (const watcher of watchers) watcher.refresh();
  });

  /** Reloads run one at a time (SIGHUP, the file watch and callers may ask at once). */
  let reloading: Promise<unknown> = Promise.resolve();
  function reloadConfig(): Promise<ConfigReload> {
    const run = reloading.then(reloadConfigNow, reloadConfigNow);
    reloading = run.catch(() => {});
    return run;
  }

  async function reloadConfigNow(): Promise<ConfigReload> {
    const file = config.file;
    if (!file) return { kind: 'no-file' };
    let next: BridgeConfig;
    try {
      next = await loadConfig(file);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return { kind: 'invalid', code: error.code, issues: error.issues.map(formatIssue) };
    }
    // A new mapping file must load before the config naming it is taken.
    const preview: ConfigChange = mergeReloadable(live.current(), next);
    const prepared = new Map<string, VersionedPlan>();
    for (const c of preview.config.connections) {
      const running = byId.get(c.id);
      if (!running || c.mappingPath === undefined || c.mappingPath === running.plan.file) continue;
      try {
        prepared.set(c.id, await loadVersionedMapping(c.mappingPath));
      } catch (error) {
        if (!(error instanceof MappingLoadError)) throw error;
        return { kind: 'invalid', code: 'GW_MAP_INVALID', issues: error.message.split('\n') };
      }
    }
    preparedMappings = prepared;
    const change = await live.apply(next);
    if (change.applied.length > 0) return { kind: 'applied', applied: change.applied, restart: change.restart };
    return change.restart.length > 0 ? { kind: 'restart', restart: change.restart } : { kind: 'unchanged' };
  }
  const proxyById = new Map(proxies.map((p) => [p.config.id, p]));

  return {
    connections,
    proxies,
    proxy(id) {
      const found = proxyById.get(id);
      if (!found) throw new Error(`unknown proxy connection ${id}`);
      return found;
    },
    redisWarnings,
    live,
    auth(id) {
      const found = auths.get(id);
      if (!found) throw new Error(`unknown connection ${id}`);
      return found.stable;
    },
    requestCounter(id) {
      if (!auths.has(id)) throw new Error(`unknown connection ${id}`);
      // Under the connection's hash tag, like its store: one slot on a Redis Cluster.
      return { redis, nameSpace: `${storePrefix(config, id)}:ratelimit:` };
    },
    adminLoginCounter() {
      return { redis, nameSpace: `${config.redis.prefix}:admin:loginfail:` };
    },
    reloadConfig,
    watchConfig(logger) {
      if (!config.file) return undefined;
      const file = config.file;
      const watcher = watchConfigFile(
        file,
        async () => {
          const outcome = await reloadConfig();
          switch (outcome.kind) {
            case 'invalid':
              logger.error({ file, code: outcome.code, issues: outcome.issues }, 'config not reloaded: the new version is invalid, the running one stays');
              return;
            case 'applied':
              logger.info({ file, settings: outcome.applied }, 'config reloaded: new settings in effect');
              break;
            default:
              break;
          }
          if ('restart' in outcome && outcome.restart.length > 0) {
            logger.warn({ file, settings: outcome.restart }, 'config changes that require a restart were ignored');
          }
        },
        logger,
      );
      configWatchers.push(watcher);
      return watcher;
    },
    ops,
    metrics,
    connection(id) {
      const found = byId.get(id);
      if (!found) throw new Error(`unknown connection ${id}`);
      return found;
    },
    async ping() {
      return (await redis.ping()) === 'PONG';
    },
    health() {
      return readHealth({
        ping: () => redis.ping(),
        connections: [
          ...connections.map((c) => ({
            id: c.config.id,
            mapping: { name: c.plan.name },
            queue: c.queue.queue as Queue,
            workerRunning: () => (workers.length === 0 ? undefined : (workerOf.get(c.config.id)?.worker.isRunning() ?? false)),
          })),
          // A buffering proxy connection: its write buffer is its queue, the replay its worker.
          ...proxies.flatMap((p) => {
            const buffer = p.buffer;
            if (!buffer) return [];
            return [
              {
                id: p.config.id,
                mode: 'proxy' as const,
                queue: buffer.queue as Queue,
                workerRunning: () => (workersStarted ? (replayOf.get(p.config.id)?.worker.isRunning() ?? false) : undefined),
              },
            ];
          }),
        ],
      });
    },
    async startWorkers(logger) {
      workersStarted = true;
      for (const p of proxies) {
        const settings = p.config.proxy?.buffer;
        if (!p.buffer || !settings) continue;
        const id = p.config.id;
        const replay = await startBufferReplay({ connection: p.config, settings, redisUrl, prefix: bullPrefix(config), timeline: p.timeline, logger, live: () => live.connection(id) });
        replays.push(replay);
        replayOf.set(p.config.id, replay);
      }
      for (const c of connections) {
        const worker = await startDeliveryWorker({
          connectionId: c.config.id,
          redisUrl,
          commandConnection: redis,
          // The store is on `redis` too: one job's lock and store commands share round trips.
          storeOnCommandConnection: true,
          prefix: bullPrefix(config),
          lockPrefix: storePrefix(config, c.config.id),
          delivery: c.config.delivery,
          target: c.config.target,
          store: c.store,
          plan: c.plan,
          enqueue: (data) => c.queue.enqueue(data),
          logger,
          observer: createDeliveryObserver({ connectionId: c.config.id, timeline: c.timeline, last: c.last, logger, metrics: metrics.delivery }),
        });
        workers.push(worker);
        workerOf.set(c.config.id, worker);
        const relay = startOutboxRelay({ connectionId: c.config.id, store: c.store, enqueue: (jobs) => c.queue.enqueueMany(jobs), logger });
        relays.push(relay);
        relayOf.set(c.config.id, relay);
        if (c.config.reconcile) {
          const { store, plan, queue } = c;
          const connectionId = c.config.id;
          schedules.push(
            await startReconcileSchedule({
              connectionId,
              redisUrl,
              prefix: bullPrefix(config),
              everyMs: c.config.reconcile.every,
              logger,
              async run() {
                const client = createTargetClient(live.connection(connectionId).target);
                try {
                  return await reconcile({ connectionId, store, plan, client, enqueue: (jobs) => queue.enqueueMany(jobs) }, { dryRun: false });
                } finally {
                  await client.close();
                }
              },
            }),
          );
        }
      }
    },
    watchMappings(logger) {
      const watcher = watchMappings(
        connections.map((c) => ({ connectionId: c.config.id, plan: c.plan })),
        logger,
      );
      watchers.push(watcher);
      return watcher;
    },
    async close() {
      for (const watcher of watchers) watcher.close();
      for (const watcher of configWatchers) watcher.close();
      await Promise.allSettled(relays.map((r) => r.stop()));
      await Promise.allSettled(schedules.map((s) => s.close()));
      await Promise.allSettled(workers.map((w) => w.close(config.shutdown.graceMs)));
      await Promise.allSettled(replays.map((r) => r.close()));
      await Promise.allSettled(connections.map((c) => c.queue.close()));
      await Promise.allSettled(proxies.map((p) => p.buffer?.close()));
      await waiter?.close();
      await Promise.allSettled([redis.quit(), queueConnection.quit()]);
    },
  };
}

/** A ConnectionAuth that always asks the current one (swapped by a config reload). */
/** An accepted write as its timeline event, stamped now. */
function scimEvent(change: Omit<AcceptedChange, 'type' | 'id'>): ScimChangeEvent {
  return { kind: 'scim', at: new Date().toISOString(), ...change };
}

function delegatingAuth(holder: { current: ConnectionAuth }): ConnectionAuth {
  const { accessTokens } = holder.current;
  return {
    authenticator: {
      authenticate: (authorization) => holder.current.authenticator.authenticate(authorization),
      verifyClient: (clientId, secret) => holder.current.authenticator.verifyClient(clientId, secret),
    },
    // Whether there is a token endpoint is fixed at start (reload.ts keeps auth when it would change).
    ...(accessTokens
      ? {
          accessTokens: {
            issuer: accessTokens.issuer,
            issue: (claims) => (holder.current.accessTokens ?? accessTokens).issue(claims),
            verify: (token) => (holder.current.accessTokens ?? accessTokens).verify(token),
          },
        }
      : {}),
  };
}

/**
 * "Nothing accepted is lost" needs Redis to keep what it acknowledged: no eviction, and
 * persistence (AOF). Managed Redis services may refuse CONFIG; then there is nothing to check.
 */
export async function checkRedisSettings(redis: Redis): Promise<string[]> {
  const warnings: string[] = [];
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (policy && policy !== 'noeviction') {
      warnings.push(`Redis maxmemory-policy is "${policy}": set it to "noeviction", or Redis may drop accepted changes and queued deliveries`);
    }
    const [, aof] = (await redis.config('GET', 'appendonly')) as string[];
    if (aof === 'no') warnings.push('Redis persistence (appendonly) is off: a Redis restart loses accepted changes; enable AOF in production');
  } catch {
    // CONFIG is disabled (managed Redis): nothing to check.
  }
  return warnings;
}
