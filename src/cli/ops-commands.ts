import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { AnyJobView, BufferJobView, ConnectionStatus, JobListState, JobView, Ops, Trace } from '../ops/service.js';
import { OpsConflictError, OpsNotFoundError } from '../ops/service.js';
import type { TimelineEvent } from '../ops/timeline.js';
import { createRuntime } from '../runtime.js';
import type { Io } from './main.js';
import { formatAge, renderTable } from './table.js';

/**
 * `scim-bridge status | jobs … | trace …`: the admin API's answers, straight from Redis with the
 * config file (no running server needed). Human tables by default, `--json` for scripts.
 * Exit codes as everywhere: 0 ok, 1 invalid input (bad config, unknown connection/job/resource,
 * a job in the wrong state), 2 usage or I/O (Redis unreachable).
 */

export const OPS_USAGE = `  status  [--config FILE] [--json]        every connection's queue: counts, oldest waiting job, last success/failure
  jobs list <connection> [--state failed|waiting|active|delayed|completed] [--count N] [--json]
                                          delivery jobs, or a mode: proxy connection's buffered writes
  jobs show <connection> <jobId> [--json]  one job, with its failure reason as data
  jobs retry <connection> <jobId>|--all    retry a failed job (delivers the resource's latest state)
  jobs discard <connection> <jobId>        remove a job that is not running
  trace <connection> <userName|id|externalId|displayName> [--json]
                                          a resource's SCIM changes and delivery attempts`;

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  state: { type: 'string' },
  count: { type: 'string' },
  all: { type: 'boolean' },
} as const;

type Values = { config?: string; json?: boolean; state?: string; count?: string; all?: boolean };

class UsageError extends Error {}

export async function runOpsCommand(command: 'status' | 'jobs' | 'trace', args: string[], io: Io): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    io.stderr(`scim-bridge ${command}: ${(err as Error).message}\n`);
    return 2;
  }
  const file = values.config ?? process.env.SCIM_BRIDGE_CONFIG ?? 'config/default.yaml';
  let action: (ops: Ops) => Promise<unknown>;
  try {
    action = plan(command, positionals, values, io);
  } catch (err) {
    io.stderr(`scim-bridge ${command}: ${(err as Error).message}\nUsage:\n${OPS_USAGE}\n`);
    return 2;
  }
  const config = await loadConfig(file);
  let runtime;
  try {
    runtime = await createRuntime(config);
  } catch (err) {
    io.stderr(`scim-bridge ${command}: cannot reach Redis (${(err as Error).message})\n`);
    return 2;
  }
  try {
    await action(runtime.ops);
    return 0;
  } catch (err) {
    if (err instanceof OpsNotFoundError || err instanceof OpsConflictError) {
      io.stderr(`scim-bridge ${command}: ${err.message}\n`);
      return 1;
    }
    io.stderr(`scim-bridge ${command}: ${(err as Error).message}\n`);
    return 2;
  } finally {
    await runtime.close();
  }
}

/** Validates the command line before anything connects; returns what to run. */
function plan(command: 'status' | 'jobs' | 'trace', positionals: string[], values: Values, io: Io): (ops: Ops) => Promise<unknown> {
  const out = (json: unknown, human: () => string) => io.stdout(values.json ? `${JSON.stringify(json, null, 2)}\n` : human());
  if (command === 'status') {
    if (positionals.length > 0) throw new UsageError('status takes no arguments');
    return async (ops) => {
      const connections = await ops.connections();
      out({ connections }, () => statusTable(connections));
    };
  }
  if (command === 'trace') {
    const [connection, query] = positionals;
    if (!connection || !query || positionals.length > 2) throw new UsageError('trace needs <connection> and a userName, id, externalId or displayName');
    return async (ops) => {
      const trace = await ops.trace(connection, query);
      out(trace, () => traceText(trace));
    };
  }
  const [sub, connection, jobId] = positionals;
  if (!connection) throw new UsageError(`jobs ${sub ?? ''} needs a connection`);
  switch (sub) {
    case 'list': {
      const state = (values.state ?? 'failed') as JobListState;
      if (!['failed', 'waiting', 'active', 'delayed', 'completed'].includes(state)) throw new UsageError(`unknown state "${state}"`);
      const count = values.count === undefined ? 50 : Number(values.count);
      if (!Number.isInteger(count) || count < 1) throw new UsageError('--count must be a positive integer');
      return async (ops) => {
        const page = await ops.jobs(connection, { state, count });
        out(page, () => `${jobsTable(page.jobs)}${page.total > page.jobs.length ? `(${page.jobs.length} of ${page.total}; --count N for more)\n` : ''}`);
      };
    }
    case 'show':
      if (!jobId) throw new UsageError('jobs show needs <connection> <jobId>');
      return async (ops) => {
        const job = await ops.job(connection, jobId);
        out(job, () => jobText(job));
      };
    case 'retry':
      if (values.all) {
        return async (ops) => {
          const result = await ops.retryAll(connection);
          const skipped = result.skipped ? `; left ${result.skipped} alone (a later write reached the upstream, or past maxAgeMs: see jobs list)` : '';
          out(result, () => `retried ${result.retried} failed job(s) of ${connection}${skipped}\n`);
        };
      }
      if (!jobId) throw new UsageError('jobs retry needs <connection> <jobId> or --all');
      return async (ops) => {
        const job = await ops.retry(connection, jobId);
        out(job, () =>
          'kind' in job
            ? `retried ${job.id}: the buffered ${job.method} of ${job.resource.type} ${job.resource.id} is back in the buffer, behind any write still waiting\n`
            : `retried ${job.id}: the worker will deliver the latest state of ${job.resource.type} ${job.resource.name ?? job.resource.id}\n`,
        );
      };
    case 'discard':
      if (!jobId) throw new UsageError('jobs discard needs <connection> <jobId>');
      return async (ops) => {
        await ops.discard(connection, jobId);
        out({ discarded: jobId }, () => `discarded ${jobId}\n`);
      };
    default:
      throw new UsageError(`unknown jobs command "${sub ?? ''}" (list, show, retry, discard)`);
  }
}

function statusTable(connections: ConnectionStatus[]): string {
  return renderTable(
    ['CONNECTION', 'NAME', 'OUTBOX', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'OLDEST WAITING', 'PAUSED', 'RATE-LIMITED UNTIL', 'BREAKER', 'LAST SUCCESS', 'LAST FAILURE'],
    connections.map((c) => [
      c.id,
      c.mode === 'proxy' ? `${c.displayName} (write buffer)` : c.displayName,
      c.outbox === undefined ? '-' : String(c.outbox),
      String(c.queue.counts.waiting + c.queue.counts.prioritized),
      String(c.queue.counts.active),
      String(c.queue.counts.delayed),
      String(c.queue.counts.failed),
      formatAge(c.queue.oldestWaitingAgeMs),
      c.queue.paused ? 'yes' : 'no',
      c.queue.rateLimitedUntil ?? (c.gate?.pause?.reason === 'rate-limit' ? c.gate.pause.until : '-'),
      c.gate?.breaker === 'open' ? `open${c.gate.pause?.reason === 'breaker' ? ` until ${c.gate.pause.until}` : ''}` : (c.gate?.breaker ?? '-'),
      c.lastSuccess?.at ?? '-',
      c.lastFailure ? `${c.lastFailure.at} ${c.lastFailure.code}${c.lastFailure.status ? ` ${c.lastFailure.status}` : ''}` : '-',
    ]),
  );
}

function jobsTable(all: AnyJobView[]): string {
  if (all.length === 0) return 'no jobs\n';
  const buffered = all.filter((j): j is BufferJobView => 'kind' in j);
  if (buffered.length > 0) return bufferJobsTable(buffered);
  const jobs = all as JobView[];
  return renderTable(
    ['JOB', 'STATE', 'RESOURCE', 'ATTEMPTS', 'CODE', 'STATUS', 'CALL', 'LAST ATTEMPT', 'SUPERSEDED'],
    jobs.map((j) => [
      j.id,
      j.state,
      `${j.resource.type} ${j.resource.name ?? j.resource.id}`,
      `${j.attempts}/${j.maxAttempts}`,
      j.failure?.code ?? '-',
      j.failure?.status === undefined ? '-' : String(j.failure.status),
      j.failure?.method ? `${j.failure.action ?? ''} ${j.failure.method} ${j.failure.path ?? ''}`.trim() : '-',
      j.failure?.lastAttemptAt ?? '-',
      j.superseded ? 'yes' : 'no',
    ]),
  );
}

/** A `mode: proxy` connection's buffered writes: what was written (attribute names), never the body. */
function bufferJobsTable(jobs: BufferJobView[]): string {
  return renderTable(
    ['JOB', 'STATE', 'WRITE', 'ATTRIBUTES', 'ATTEMPTS', 'CODE', 'UPSTREAM', 'ACCEPTED', 'SUPERSEDED'],
    jobs.map((j) => {
      const error = j.failure ?? j.lastError;
      return [
        j.id,
        j.state,
        `${j.method} ${j.resource.type} ${j.resource.id}`,
        j.attributes.join(', ') || '-',
        String(j.attempts),
        error?.code ?? '-',
        error?.upstreamStatus === undefined ? '-' : String(error.upstreamStatus),
        j.acceptedAt,
        j.superseded ? 'yes' : 'no',
      ];
    }),
  );
}

function bufferJobText(job: BufferJobView): string {
  const lines = [
    `job         ${job.id} (${job.state}), a buffered write`,
    `write       ${job.method} ${job.resource.type} ${job.resource.id}`,
    `attributes  ${job.attributes.join(', ') || '-'}${job.rewrites.length > 0 ? ` (rewrites ${job.rewrites.join(', ')})` : ''}`,
    `accepted    ${job.acceptedAt}${job.requestId ? ` by request ${job.requestId}` : ''}`,
    `attempts    ${job.attempts}${job.finishedAt ? `, finished ${job.finishedAt}` : ''}`,
  ];
  if (job.lastError) {
    const e = job.lastError;
    lines.push(`last error  ${e.code}${e.upstreamStatus === undefined ? '' : ` (upstream answered ${e.upstreamStatus})`} at ${e.at}`);
  }
  if (job.failure) {
    const f = job.failure;
    lines.push(`failure     ${f.code}${f.upstreamStatus === undefined ? '' : ` (upstream answered ${f.upstreamStatus})`}`, `reason      ${f.message || '-'}`);
  }
  if (job.state === 'failed') {
    const by = job.supersededBy;
    lines.push(`superseded  ${by ? `yes (${by.op} ${by.outcome} at ${by.at}${by.jobId ? `, job ${by.jobId}` : ''}): discard it, a retry would undo that write` : 'no'}`);
  }
  return `${lines.join('\n')}\n`;
}

function jobText(job: AnyJobView): string {
  if ('kind' in job) return bufferJobText(job);
  const lines = [
    `job         ${job.id} (${job.state})`,
    `resource    ${job.resource.type} ${job.resource.name ?? ''} (id ${job.resource.id}), revision ${job.revision}`,
    `attempts    ${job.attempts} of ${job.maxAttempts}`,
    `created     ${job.createdAt}${job.requestId ? ` by request ${job.requestId}` : ''}`,
    `superseded  ${job.superseded ? `yes (delivered at revision ${job.deliveredRevision ?? '?'})` : 'no'}`,
  ];
  if (job.failure) {
    const f = job.failure;
    lines.push(
      `failure     ${f.code}${f.status === undefined ? '' : ` (target answered ${f.status})`}`,
      `call        ${[f.action, f.method, f.path].filter(Boolean).join(' ') || '-'}`,
      `answer      ${f.answer ?? '-'}`,
      `attempted   first ${f.firstAttemptAt}, last ${f.lastAttemptAt}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function traceText(trace: Trace): string {
  const { resource, delivery } = trace;
  const head = trace.mode === 'proxy' ? [
    `${resource.type} (id ${resource.id}) in ${trace.connection} (mode: proxy, held by the upstream): ${resource.exists ? 'present, as far as its proxied writes tell' : 'deleted'}`,
    '',
  ].join('\n') : [
    `${resource.type} ${resource.name ?? ''} (id ${resource.id}) in ${trace.connection}: ${resource.exists ? `revision ${resource.revision}` : 'deleted'}`,
    `target id ${delivery.targetId ?? '-'}, delivered revision ${delivery.deliveredRevision ?? '-'}${delivery.createPending ? ', create outcome unknown' : ''}`,
    '',
  ].join('\n');
  const rows = trace.events.map((event) => [event.at, ...describeEvent(event)]);
  const open = trace.jobs.filter((j) => j.state === 'failed' && !j.superseded);
  const hint = open.length > 0 ? `\nopen failure: ${open.map((j) => `${j.id} (${j.failure?.code ?? '?'})`).join(', ')}; fix the cause, then: scim-bridge jobs retry ${trace.connection} ${open[0]!.id}\n` : '';
  return `${head}\n${rows.length > 0 ? renderTable(['TIME', 'EVENT', 'DETAIL'], rows) : 'no events recorded\n'}${hint}`;
}

function describeEvent(event: TimelineEvent): [string, string] {
  if (event.kind === 'scim') {
    return [`scim ${event.op} r${event.revision}`, `${event.attributes.join(', ') || '-'}${event.requestId ? `  (request ${event.requestId})` : ''}`];
  }
  if (event.kind === 'proxy') {
    const upstream = event.upstreamStatus === undefined ? '' : ` upstream ${event.upstreamStatus}`;
    const answered = event.status === undefined ? '' : ` → ${event.status}`;
    const job = event.jobId ? ` job ${event.jobId}${event.attempt ? ` attempt ${event.attempt}` : ''}` : '';
    return [
      `proxy ${event.op} ${event.outcome}`,
      `${event.attributes.join(', ') || '-'}${upstream}${answered}${event.code ? ` ${event.code}` : ''}, ${event.durationMs}ms` +
        `${event.rewrites.length > 0 ? `, rewrites ${event.rewrites.join(', ')}` : ''}${job}${event.requestId ? `  (request ${event.requestId})` : ''}`,
    ];
  }
  const calls = event.calls.map((c) => `${c.method} ${c.path} → ${c.status ?? c.code ?? c.outcome}`).join('; ');
  return [
    `delivery ${event.outcome}`,
    `${event.jobId} attempt ${event.attempt}${event.code ? ` ${event.code}` : ''}, ${event.durationMs}ms${calls ? `: ${calls}` : ''}`,
  ];
}
