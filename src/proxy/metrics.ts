import { Counter, Histogram, register } from 'prom-client';

/**
 * Prometheus metrics of proxied traffic, in prom-client's default registry: one count and one
 * duration per answered request, labelled by kind (`pass-through` or `scim` for `mode: proxy`),
 * connection (empty for the host-wide upstream) and status class, so the cardinality stays small.
 * Looked up before being created, so a second app in one process (tests) reuses them.
 */

const requests =
  (register.getSingleMetric('scim_bridge_proxy_requests_total') as Counter | undefined) ??
  new Counter({
    name: 'scim_bridge_proxy_requests_total',
    help: 'Proxied requests answered, by kind (pass-through, scim), connection and status class.',
    labelNames: ['kind', 'connection', 'status'],
  });

const durations =
  (register.getSingleMetric('scim_bridge_proxy_request_duration_seconds') as Histogram | undefined) ??
  new Histogram({
    name: 'scim_bridge_proxy_request_duration_seconds',
    help: 'Time to answer a proxied request, upstream included.',
    labelNames: ['kind', 'connection'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });

export function recordProxied(kind: 'pass-through' | 'scim', connection: string, status: number, ms: number): void {
  requests.inc({ kind, connection, status: `${Math.floor(status / 100)}xx` });
  durations.observe({ kind, connection }, ms / 1000);
}
