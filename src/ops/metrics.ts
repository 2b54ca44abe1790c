import client from 'prom-client';
import type { Queue } from 'bullmq';
import type { DeliveryMetricsSink } from './delivery-observer.js';
import type { AttemptOutcome, CallRecord } from './failure.js';
import { JOB_STATES, readQueueStatus, type QueueStatus } from './queue-status.js';

/**
 * The bridge's Prometheus metrics, in a registry of its own per process (tests run several
 * bridges in one process; the global registry would collide). Counters and histograms are
 * observed as things happen; queue depth, oldest job age and Redis round-trip time are read
 * from Redis when Prometheus scrapes, so every process reports the same queue numbers.
 * fastify-metrics is not used: its route labels cannot carry the connection and SCIM operation,
 * and it registers in the global registry.
 * @see https://github.com/siimon/prom-client#readme
 */

export const METRIC_PREFIX = 'scim_bridge_';

/** One connection's queue status (and outbox size, for mapped connections) at scrape time. */
interface QueueScrape {
  connectionId: string;
  status: QueueStatus;
  outbox?: number;
}

export interface MetricsSources {
  /** Each connection's id and delivery queue. */
  /** Each connection's queue, and for mapped connections how many outbox entries wait. */
  queues: Array<{ connectionId: string; queue: Queue; outbox?: () => Promise<number> }>;
  /** Resolves when Redis answered a PING; rejects otherwise. */
  ping(): Promise<unknown>;
}

export interface BridgeMetrics {
  registry: client.Registry;
  scimRequest(labels: { connection: string; operation: string; status: number }, seconds: number): void;
  delivery: DeliveryMetricsSink;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  contentType: string;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(sources: MetricsSources): BridgeMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const scimDuration = new client.Histogram({
    name: `${METRIC_PREFIX}scim_request_duration_seconds`,
    help: 'SCIM requests by connection, operation (method and route) and HTTP status, with their latency.',
    labelNames: ['connection', 'operation', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const scimTotal = new client.Counter({
    name: `${METRIC_PREFIX}scim_requests_total`,
    help: 'SCIM requests by connection, operation and HTTP status.',
    labelNames: ['connection', 'operation', 'status'] as const,
    registers,
  });
  const callDuration = new client.Histogram({
    name: `${METRIC_PREFIX}delivery_call_duration_seconds`,
    help: 'Calls to targets by connection, mapping action, outcome (ok, retry, rateLimited, reject) and target status (none when it did not answer).',
    labelNames: ['connection', 'action', 'outcome', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const attempts = new client.Counter({
    name: `${METRIC_PREFIX}delivery_attempts_total`,
    help: 'Delivery job attempts by connection and outcome (delivered, retry, failed, rateLimited).',
    labelNames: ['connection', 'outcome'] as const,
    registers,
  });
  const attemptDuration = new client.Histogram({
    name: `${METRIC_PREFIX}delivery_attempt_duration_seconds`,
    help: 'Duration of delivery job attempts by connection and outcome.',
    labelNames: ['connection', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const retries = new client.Counter({
    name: `${METRIC_PREFIX}delivery_retries_total`,
    help: 'Delivery attempts that failed and will be retried, by connection and error code.',
    labelNames: ['connection', 'code'] as const,
    registers,
  });
  const failures = new client.Counter({
    name: `${METRIC_PREFIX}delivery_failures_total`,
    help: 'Delivery jobs that failed for good (moved to the failed set), by connection and error code.',
    labelNames: ['connection', 'code'] as const,
    registers,
  });
  const pauses = new client.Counter({
    name: `${METRIC_PREFIX}rate_limit_pauses_total`,
    help: "Times a target's 429 paused a connection's queue.",
    labelNames: ['connection'] as const,
    registers,
  });

  new client.Gauge({
    name: `${METRIC_PREFIX}queue_jobs`,
    help: 'Delivery jobs (for a mode: proxy connection: buffered writes) by connection and state, read from Redis at scrape time.',
    labelNames: ['connection', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      for (const { connectionId, status } of await queueStatuses()) {
        for (const state of JOB_STATES) this.set({ connection: connectionId, state }, status.counts[state]);
      }
    },
  });
  /** A gauge with one sample per connection, read from the scrape's queue statuses (none where `value` gives undefined). */
  const connectionGauge = (name: string, help: string, value: (status: QueueScrape) => number | undefined) =>
    new client.Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['connection'] as const,
      registers,
      async collect() {
        this.reset();
        for (const scraped of await queueStatuses()) {
          const sample = value(scraped);
          if (sample !== undefined) this.set({ connection: scraped.connectionId }, sample);
        }
      },
    });
  connectionGauge('queue_oldest_waiting_seconds', 'Age of the oldest waiting delivery job per connection (0 when none waits).', ({ status }) => (status.oldestWaitingAgeMs ?? 0) / 1000);
  connectionGauge('queue_rate_limited', "1 while a target's 429 holds the connection's queue back, else 0.", ({ status }) => (status.rateLimitedUntil ? 1 : 0));
  connectionGauge(
    'outbox_entries',
    'Accepted writes whose delivery job the outbox relay has not queued yet, per connection (grows while no worker runs).',
    ({ outbox }) => outbox,
  );
  new client.Gauge({
    name: `${METRIC_PREFIX}redis_rtt_seconds`,
    help: 'Round-trip time of a Redis PING at scrape time (absent when Redis did not answer).',
    registers,
    async collect() {
      this.reset();
      const started = performance.now();
      try {
        await sources.ping();
        this.set((performance.now() - started) / 1000);
      } catch {
        // No sample: redis_up says why.
      }
    },
  });
  new client.Gauge({
    name: `${METRIC_PREFIX}redis_up`,
    help: '1 when Redis answered a PING at scrape time, else 0.',
    registers,
    async collect() {
      this.set(await sources.ping().then(() => 1, () => 0));
    },
  });

  // One read of every queue per scrape, shared by the gauges above (the registry collects them
  // all at once, so they all get the same pending read).
  let scrape: Promise<QueueScrape[]> | undefined;
  function queueStatuses() {
    scrape ??= Promise.all(
      sources.queues.map(async ({ connectionId, queue, outbox }) => {
        const [status, entries] = await Promise.all([readQueueStatus(queue), outbox?.()]);
        return { connectionId, status, ...(entries === undefined ? {} : { outbox: entries }) };
      }),
    )
      .catch(() => [])
      .finally(() => {
        scrape = undefined;
      });
    return scrape;
  }

  return {
    registry,
    contentType: registry.contentType,
    scimRequest(labels, seconds) {
      const values = { connection: labels.connection, operation: labels.operation, status: String(labels.status) };
      scimDuration.observe(values, seconds);
      scimTotal.inc(values);
    },
    delivery: {
      call(connection: string, record: CallRecord) {
        callDuration.observe(
          { connection, action: record.action, outcome: record.outcome, status: record.status === undefined ? 'none' : String(record.status) },
          record.durationMs / 1000,
        );
        if (record.outcome === 'rateLimited') pauses.inc({ connection });
      },
      attempt(connection: string, outcome: AttemptOutcome, durationMs: number, code?: string) {
        attempts.inc({ connection, outcome });
        attemptDuration.observe({ connection, outcome }, durationMs / 1000);
        if (outcome === 'retry') retries.inc({ connection, code: code ?? 'unknown' });
        if (outcome === 'failed') failures.inc({ connection, code: code ?? 'unknown' });
      },
    },
    // The proxy's metrics (src/proxy/metrics.ts) live in prom-client's default registry, which
    // holds nothing else: both are served here.
    render: async () => `${await registry.metrics()}${await client.register.metrics()}`,
  };
}
