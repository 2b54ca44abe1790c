import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { AdminConfig } from '../config/schema.js';
import type { DeliveryJobData } from '../delivery/types.js';
import { bufferJobTitle, deliveryJobTitle } from '../ops/job-title.js';
import { bufferJobSummary, type BufferedWrite } from '../proxy/write-buffer.js';
import type { ConnectionRuntime, ProxyRuntime } from '../runtime.js';
import { sendAdminError } from './errors.js';

/**
 * bull-board at /admin/queues: one queue per connection, under the connection's display name.
 * It is registered inside the admin scope, so the admin auth hook runs before any of its routes
 * (pages, static files and its JSON API). bull-board's own switches are coarse (read-only, or
 * almost everything), so the changes it may make are also allow-listed here, per `admin.allow`:
 * anything else that is not a read (pause, empty, add or edit a job…) is refused with 405.
 * @see https://github.com/felixmosh/bull-board#readme
 */

export interface DashboardOptions {
  admin: AdminConfig;
  connections: ConnectionRuntime[];
  /** `mode: proxy` connections: their write buffers, when on, are queues too. */
  proxies?: ProxyRuntime[];
  /** URL prefix the plugin is mounted at, e.g. /admin/queues. */
  basePath: string;
}

/** bull-board API routes that change something, by the permission that allows them. */
const ALLOWED_CHANGES: Array<{ allow: keyof AdminConfig['allow']; route: RegExp }> = [
  { allow: 'retry', route: /^\/api\/queues\/[^/]+\/retry\/[^/]+$/ },
  { allow: 'retry', route: /^\/api\/queues\/[^/]+\/[^/]+\/retry$/ },
  { allow: 'clean', route: /^\/api\/queues\/[^/]+\/clean\/[^/]+$/ },
  { allow: 'clean', route: /^\/api\/queues\/[^/]+\/[^/]+\/clean$/ },
  { allow: 'promote', route: /^\/api\/queues\/[^/]+\/promote$/ },
  { allow: 'promote', route: /^\/api\/queues\/[^/]+\/[^/]+\/promote$/ },
];

/** A queue whose description is computed when the dashboard asks (bull-board keeps a string otherwise). */
class LiveDescriptionAdapter extends BullMQAdapter {
  constructor(
    queue: ConstructorParameters<typeof BullMQAdapter>[0],
    private readonly describe: () => string,
    options: ConstructorParameters<typeof BullMQAdapter>[1],
  ) {
    super(queue, options);
  }

  override getDescription(): string {
    return this.describe();
  }
}

export async function dashboardPlugin(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { admin } = options;
  const canChange = admin.allow.retry || admin.allow.clean || admin.allow.promote;
  const queues: BullMQAdapter[] = options.connections.map((c) => {
    // Read on every dashboard request: `c.config` is the live config, so a reloaded target shows at once.
    const adapter = new LiveDescriptionAdapter(c.queue.queue, () => `connection ${c.config.id} → ${new URL(c.config.target.baseUrl).origin}`, {
      displayName: c.config.displayName,
      readOnlyMode: !canChange,
      allowRetries: admin.allow.retry,
    });
    adapter.setFormatter('name', (job: { data?: Partial<DeliveryJobData> }) => deliveryJobTitle(job.data));
    return adapter;
  });
  for (const p of options.proxies ?? []) {
    if (!p.buffer) continue;
    const adapter = new BullMQAdapter(p.buffer.queue, {
      displayName: `${p.config.displayName} · write buffer`,
      description: `mode: proxy connection ${p.config.id}: writes accepted while ${new URL(p.config.target.baseUrl).origin} was down, replayed in order`,
      readOnlyMode: !canChange,
      allowRetries: admin.allow.retry,
    });
    adapter.setFormatter('name', (job: { data?: Partial<BufferedWrite> }) => bufferJobTitle(job.data));
    // The body carries attribute values: the dashboard shows names only.
    adapter.setFormatter('data', (data: Partial<BufferedWrite>) => bufferJobSummary(data));
    queues.push(adapter);
  }

  const server = new FastifyAdapter();
  server.setBasePath(options.basePath);
  createBullBoard({
    queues,
    serverAdapter: server,
    options: { uiConfig: { boardTitle: 'scim-bridge', hideDocsLink: true } },
  });

  app.addHook('onRequest', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    const path = (request.url.split('?')[0] ?? '').slice(options.basePath.length);
    const rule = ALLOWED_CHANGES.find((r) => r.route.test(path));
    if (rule && admin.allow[rule.allow]) return;
    return sendAdminError(reply, 405, 'not_allowed', rule ? `the configuration does not allow "${rule.allow}" (admin.allow.${rule.allow})` : 'the dashboard is read-only for this action');
  });
  await app.register(server.registerPlugin());
}
