import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { createTargetClient } from '../delivery/http-client.js';
import { reconcile, type ReconcileReport, type TypeReport } from '../delivery/reconcile.js';
import { createRuntime } from '../runtime.js';
import type { Io } from './main.js';

/**
 * `scim-bridge reconcile <connection> [--config FILE] [--dry-run] [--json]`: compares the target
 * with the bridge through the mapping's `list:` rules, re-delivers what drifted (not with
 * `--dry-run`) and reports orphans. Exit codes: 0 done (drift or not), 1 the mapping cannot list
 * or the target's list failed, 2 usage or I/O.
 */

const USAGE = 'Usage: scim-bridge reconcile <connection> [--config FILE] [--dry-run] [--json]\n';

export async function runReconcile(args: string[], io: Io, reportError: (err: unknown, io: Io) => number): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { config: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    });
  } catch (err) {
    io.stderr(`scim-bridge reconcile: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [connectionId, ...extra] = parsed.positionals;
  if (!connectionId || extra.length > 0) {
    io.stderr(`scim-bridge reconcile: name one connection\n${USAGE}`);
    return 2;
  }
  const file = parsed.values.config ?? process.env.SCIM_BRIDGE_CONFIG ?? 'config/default.yaml';
  const dryRun = parsed.values['dry-run'] === true;
  try {
    const config = await loadConfig(file);
    const connection = config.connections.find((c) => c.id === connectionId);
    if (!connection) {
      io.stderr(`scim-bridge reconcile: no connection "${connectionId}" in ${file} (there are: ${config.connections.map((c) => c.id).join(', ')})\n`);
      return 2;
    }
    const runtime = await createRuntime(config);
    const client = createTargetClient(connection.target);
    try {
      const c = runtime.connection(connectionId);
      if (!(['User', 'Group'] as const).some((type) => c.plan.supports(type) && c.plan.listRule?.(type))) {
        io.stderr(`scim-bridge reconcile: the mapping of ${connectionId} (${connection.mapping}) has no list rule; add \`list:\` under users: or groups: (docs/mapping.md)\n`);
        return 1;
      }
      const report = await reconcile(
        { connectionId, store: c.store, plan: c.plan, client, enqueue: (jobs) => c.queue.enqueueMany(jobs) },
        { dryRun },
      );
      io.stdout(parsed.values.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
      return 0;
    } finally {
      await client.close();
      await runtime.close();
    }
  } catch (err) {
    return reportError(err, io);
  }
}

export function renderReport(report: ReconcileReport): string {
  const lines = [`reconcile ${report.connectionId}${report.dryRun ? ' (dry run: nothing changed)' : ''}`];
  for (const type of report.types) lines.push(...renderType(type, report.dryRun));
  return `${lines.join('\n')}\n`;
}

function renderType(t: TypeReport, dryRun: boolean): string[] {
  const name = t.type === 'User' ? 'users' : 'groups';
  if (!t.listed) return [`${name}: no list rule in the mapping, not compared`];
  const lines = [
    `${name}: target ${t.target}, bridge ${t.bridge}: ${t.inSync} in sync, ${t.drifted.length} drifted, ${t.missing.length} missing, ${t.pending.length} not delivered yet, ${t.orphans.length} orphans`,
  ];
  for (const d of t.drifted) lines.push(`  drifted ${d.id} (target ${d.targetId}): ${d.fields.join(', ')}`);
  for (const m of t.missing) lines.push(`  missing ${m.id} (target ${m.targetId} is gone)`);
  if (t.orphans.length > 0) lines.push(`  orphans, not touched: ${t.orphans.join(', ')}`);
  const repairs = t.drifted.length + t.missing.length;
  if (repairs > 0) lines.push(dryRun ? `  would re-deliver ${repairs}` : `  re-delivering: ${t.redelivered} jobs queued`);
  return lines;
}
