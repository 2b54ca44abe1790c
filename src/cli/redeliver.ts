import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { DeliveryJobData } from '../delivery/types.js';
import { createRuntime } from '../runtime.js';
import type { ResourceType } from '../scim/types.js';
import type { Io } from './main.js';
import { reportError } from './main.js';

/**
 * `scim-bridge redeliver <connection>`: queues a delivery of every user and group of a
 * connection, e.g. after its mapping changed. Each job re-plans from the stored state, so a
 * resource whose mapped fields are unchanged causes no call; changed ones get their update.
 */

const PAGE = 500;

export async function runRedeliver(args: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { config: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    io.stderr(`scim-bridge redeliver: ${(err as Error).message}\n`);
    return 2;
  }
  const [connectionId, ...extra] = parsed.positionals;
  if (!connectionId || extra.length > 0) {
    io.stderr('Usage: scim-bridge redeliver <connection> [--config FILE]\n');
    return 2;
  }
  try {
    const config = await loadConfig(parsed.values.config ?? process.env.SCIM_BRIDGE_CONFIG ?? 'config/default.yaml');
    if (!config.connections.some((c) => c.id === connectionId)) {
      io.stderr(`scim-bridge redeliver: no connection "${connectionId}" (known: ${config.connections.map((c) => c.id).join(', ')})\n`);
      return 2;
    }
    const runtime = await createRuntime(config);
    try {
      const { store, queue } = runtime.connection(connectionId);
      const trigger = `redeliver-${Date.now()}`;
      const counts: Record<ResourceType, number> = { User: 0, Group: 0 };
      // Users first, so groups find their members linked.
      for (const type of ['User', 'Group'] as ResourceType[]) {
        for (let start = 1; ; start += PAGE) {
          const { ids } = await store.list(type, start, PAGE);
          if (ids.length === 0) break;
          const jobs: DeliveryJobData[] = (await store.revisions(type, ids)).map((r) => ({ connectionId, type, id: r.id, revision: r.revision, trigger }));
          await queue.enqueueMany(jobs);
          counts[type] += jobs.length;
        }
      }
      io.stdout(`queued ${counts.User} users and ${counts.Group} groups of ${connectionId} for delivery\n`);
      return 0;
    } finally {
      await runtime.close();
    }
  } catch (err) {
    return reportError(err, io);
  }
}
