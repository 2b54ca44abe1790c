import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Pool } from 'undici';
import { configFromObject } from '../src/config/load.js';
import { queueName } from '../src/delivery/types.js';
import { bullPrefix } from '../src/runtime.js';
import { processCpuSeconds, startChild, type BenchChild } from './lib/child.js';
import { basePathOf, benchConfig } from './lib/config.js';
import { startFastTarget, type FastTarget } from './lib/fast-target.js';
import { waitForDelivered } from './lib/queue-drain.js';
import { benchPrefix, connectRedis, deleteByPrefix, outboxKey } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { median, percentile, ratio, round } from './lib/stats.js';

/**
 * `npm run bench -- compare --url <SCIM base URL> --token <token>`: the same Entra-shaped load
 * against any SCIM endpoint and against the bridge, in one run, so anyone can reproduce a
 * comparison with another gateway on their own machine. Per round and side: create users the
 * way Entra does (a `userName eq` probe that misses, then POST), PATCH each (Entra's dialect,
 * capitalised ops), add each to a group and remove it again (one member PATCH each), then DELETE
 * the users and the groups, so the other endpoint ends as it started. Rounds
 * alternate which side goes first; the table gives operations per second, latency and the
 * bridge ÷ other ratio per operation (above 1: the bridge is faster).
 *
 * The bridge runs as one process with its delivery worker, delivering every change to a fast
 * local target: it stores, queues and delivers what the other side may only keep in memory.
 */

export interface CompareOptions {
  url: string;
  token: string;
  users: number;
  concurrency: number;
  rounds: number;
  /** Also measure the bridge as an API process plus a worker process (how the Helm chart deploys it). */
  split: boolean;
  /**
   * Also measure the bridge's API process alone, its changes left queued for a worker that does
   * not run on this machine (how the Helm chart lets the two scale apart).
   */
  apiOnly: boolean;
  /** Process id of the other gateway, when it runs on this machine: its CPU per operation is reported too. */
  pid?: number;
}

const USAGE = 'usage: npm run bench -- compare --url <SCIM base URL> --token <bearer token> [--users 2000] [--concurrency 16] [--rounds 6] [--split] [--api-only] [--pid <other gateway process id>]';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export function parseCompareArgs(args: string[]): CompareOptions {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      users: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '16' },
      rounds: { type: 'string', default: '6' },
      split: { type: 'boolean', default: false },
      'api-only': { type: 'boolean', default: false },
      pid: { type: 'string' },
    },
    strict: true,
  });
  if (!values.url || !values.token) throw new Error(USAGE);
  const number = (name: string, value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer\n${USAGE}`);
    return n;
  };
  return {
    url: values.url.replace(/\/+$/, ''),
    token: values.token,
    users: number('users', values.users),
    concurrency: number('concurrency', values.concurrency),
    rounds: number('rounds', values.rounds),
    split: values.split === true,
    apiOnly: values['api-only'] === true,
    ...(values.pid === undefined ? {} : { pid: number('pid', values.pid) }),
  };
}

interface Side {
  label: string;
  pool: Pool;
  basePath: string;
  headers: Record<string, string>;
  /** Resolves once the side's background work of the last round is done (the bridge's deliveries). */
  settle?: () => Promise<void>;
  /** CPU seconds used so far by the side's processes on this machine, when they are known. */
  cpuSeconds?: () => Promise<number>;
}

/** The bridge's deliveries are done when its target has had no call for this long. */
const QUIET_MS = 500;
const SETTLE_TIMEOUT_MS = 60_000;
/**
 * Users of the untimed warm-up round each side runs before each measured round (a fresh process,
 * and one that sat idle for a while, is slower at first).
 */
const WARMUP_USERS = 300;


interface PhaseResult {
  operations: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
  /** CPU of the side's processes per operation during the phase (µs), when they are known. */
  cpuUsPerOp?: number;
}

type Operation = (send: Send) => Promise<void>;
type Send = (method: string, path: string, body: unknown, expect: number | number[]) => Promise<unknown>;

/** Runs `operations` with `concurrency` workers over one keep-alive pool; times each operation. */
async function runPhase(side: Side, concurrency: number, operations: Operation[]): Promise<PhaseResult> {
  const times: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const send: Send = async (method, path, body, expect) => {
    const response = await side.pool.request({
      method: method as 'GET',
      path: `${side.basePath}${path}`,
      headers: { ...side.headers, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (!(Array.isArray(expect) ? expect : [expect]).includes(response.statusCode)) throw new Error(`${method} ${path.split('?')[0]} → ${response.statusCode} ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : undefined;
  };
  let next = 0;
  const cpuBefore = await side.cpuSeconds?.();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < operations.length) {
        const operation = operations[next++]!;
        const t0 = performance.now();
        try {
          await operation(send);
          times.push(performance.now() - t0);
        } catch (error) {
          errors += 1;
          firstError ??= (error as Error).message;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = await side.cpuSeconds?.();
  const sorted = Float64Array.from(times).sort();
  return {
    operations: times.length,
    seconds: round(seconds, 2),
    perSecond: Math.round(times.length / seconds),
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    errors,
    ...(firstError ? { firstError } : {}),
    ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { cpuUsPerOp: Math.round(((cpuAfter - cpuBefore) * 1e6) / Math.max(1, times.length)) }),
  };
}

function user(tag: string, i: number): Record<string, unknown> {
  const userName = `cmp-${tag}-${i}@contoso.example`;
  return {
    schemas: [CORE_USER, ENTERPRISE],
    externalId: randomUUID(),
    userName,
    active: true,
    displayName: `Compare User ${i}`,
    emails: [{ primary: true, type: 'work', value: userName }],
    name: { formatted: `Compare User ${i}`, familyName: `User ${i}`, givenName: 'Compare' },
    [ENTERPRISE]: { department: 'Sales' },
  };
}

/** The operations timed per round, in the order they run. */
const KINDS = ['create', 'patch', 'memberAdd', 'memberRemove', 'delete'] as const;
type Kind = (typeof KINDS)[number];
/** Users per group in the membership phases: each group gets this many member PATCHes in a row. */
const USERS_PER_GROUP = 100;
const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/**
 * One round on one side: create `users` users (probe + POST), PATCH each, add each to one of
 * `users / 100` groups and remove it again (one member PATCH each, as Entra sends them), then
 * DELETE the users. Creating and deleting the groups is not timed.
 */
async function runRound(side: Side, options: CompareOptions, tag: string): Promise<Record<Kind, PhaseResult>> {
  const ids: string[] = [];
  const indexes = Array.from({ length: options.users }, (_, i) => i);
  const create = await runPhase(
    side,
    options.concurrency,
    indexes.map((i) => async (send) => {
      const body = user(tag, i);
      await send('GET', `/Users?filter=${encodeURIComponent(`userName eq "${body.userName as string}"`)}`, undefined, 200);
      const created = (await send('POST', '/Users', body, 201)) as { id?: string };
      if (created?.id) ids.push(created.id);
    }),
  );
  const patch = await runPhase(
    side,
    options.concurrency,
    ids.map((id, i) => async (send) => {
      await send(
        'PATCH',
        `/Users/${encodeURIComponent(id)}`,
        {
          schemas: [PATCH_OP],
          Operations: [
            { op: 'Replace', path: 'displayName', value: `Compare User ${i} (renamed)` },
            { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Marketing' },
          ],
        },
        200,
      );
    }),
  );
  const groups: string[] = [];
  await runPhase(
    side,
    options.concurrency,
    Array.from({ length: Math.max(1, Math.ceil(ids.length / USERS_PER_GROUP)) }, (_, g) => async (send) => {
      const displayName = `Compare Group ${tag} ${g}`;
      await send('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${displayName}"`)}&excludedAttributes=members`, undefined, 200);
      const created = (await send('POST', '/Groups', { schemas: [CORE_GROUP], externalId: randomUUID(), displayName }, 201)) as { id?: string };
      if (created?.id) groups.push(created.id);
    }),
  );
  const memberPatch = (op: 'Add' | 'Remove') =>
    ids.map((id, i) => async (send: Send) => {
      const group = groups[i % groups.length];
      if (!group) throw new Error('no group was created');
      await send('PATCH', `/Groups/${encodeURIComponent(group)}`, { schemas: [PATCH_OP], Operations: [{ op, path: 'members', value: [{ value: id }] }] }, [200, 204]);
    });
  const memberAdd = await runPhase(side, options.concurrency, memberPatch('Add'));
  const memberRemove = await runPhase(side, options.concurrency, memberPatch('Remove'));
  const remove = await runPhase(
    side,
    options.concurrency,
    ids.map((id) => async (send) => void (await send('DELETE', `/Users/${encodeURIComponent(id)}`, undefined, 204))),
  );
  await runPhase(
    side,
    options.concurrency,
    groups.map((id) => async (send) => void (await send('DELETE', `/Groups/${encodeURIComponent(id)}`, undefined, 204))),
  );
  return { create, patch, memberAdd, memberRemove, delete: remove };
}

const ONE_PROCESS = 'bridge';
const SPLIT = 'bridge, API + worker process';
const API_ONLY = 'bridge, API process only (no worker here)';

export async function compare(options: CompareOptions): Promise<BenchmarkResult> {
  const prefix = benchPrefix('compare');
  const redis = connectRedis();
  const children: BenchChild[] = [];
  const targets: FastTarget[] = [];
  const queues: Queue[] = [];
  const other = new URL(options.url);
  const sides: Side[] = [];
  try {
    /** The bridge's worker: in the API process, in a process of its own, or not on this machine. */
    const bridgeSide = async (label: string, id: string, worker: 'same' | 'separate' | 'none'): Promise<Side> => {
      const target = await startFastTarget();
      targets.push(target);
      const config = benchConfig(`${prefix}-${id}`, [{ id, targetUrl: target.url }]);
      const bridgeConfig = configFromObject(config.raw);
      const queue = new Queue(queueName(id), { connection: redis, prefix: bullPrefix(bridgeConfig) });
      queues.push(queue);
      const outbox = outboxKey(bridgeConfig, id);
      const api = await startChild({ kind: 'bridge', config: config.raw, api: true, worker: worker === 'same' });
      const processes = [api, ...(worker === 'separate' ? [await startChild({ kind: 'bridge', config: config.raw, api: false, worker: true })] : [])];
      children.push(...processes);
      return {
        cpuSeconds: async () => (await Promise.all(processes.map((p) => p.cpuSeconds()))).reduce((a, b) => a + b, 0),
        label,
        pool: new Pool(api.url!, { connections: options.concurrency }),
        basePath: basePathOf(id),
        headers: { authorization: `Bearer ${config.secret}` },
        // With no worker here, nothing is delivered during the run: there is nothing to wait for.
        ...(worker === 'none' ? {} : { settle: async () => void (await waitForDelivered({ target, queue, redis, outbox }, QUIET_MS, SETTLE_TIMEOUT_MS)) }),
      };
    };
    sides.push(await bridgeSide(ONE_PROCESS, 'compare', 'same'));
    if (options.split) sides.push(await bridgeSide(SPLIT, 'compare-split', 'separate'));
    if (options.apiOnly) sides.push(await bridgeSide(API_ONLY, 'compare-api', 'none'));
    const { pid } = options;
    sides.push({
      label: other.host,
      pool: new Pool(other.origin, { connections: options.concurrency }),
      basePath: other.pathname.replace(/\/+$/, ''),
      headers: { authorization: `Bearer ${options.token}` },
      ...(pid === undefined ? {} : { cpuSeconds: () => processCpuSeconds(pid) }),
    });
    const results: Record<string, Array<Record<Kind, PhaseResult>>> = Object.fromEntries(sides.map((s) => [s.label, []]));
    const rows: Array<Record<string, string | number>> = [];
    const warmUp = async (side: Side) => {
      await runRound(side, { ...options, users: Math.min(WARMUP_USERS, options.users) }, `${randomBytes(3).toString('hex')}-warmup`);
      await side.settle?.();
    };
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? sides : [...sides].reverse();
      for (const side of order) {
        // Every measured round follows a warm-up round of its own side: a process that sat idle
        // through the other sides' rounds has had its heap shrunk by V8 (its memory reducer) and
        // needs about twice the CPU per operation for its next second or two of work.
        await warmUp(side);
        const result = await runRound(side, options, `${randomBytes(3).toString('hex')}-r${round}`);
        // The next side starts on a machine where the bridge's worker is not still delivering.
        await side.settle?.();
        results[side.label]!.push(result);
        for (const [kind, phase] of Object.entries(result)) {
          rows.push({ run: `${side.label}, round ${round}, ${kind}`, 'ops/s': phase.perSecond, 'p50 ms': phase.p50Ms, 'p99 ms': phase.p99Ms, 'CPU µs/op': phase.cpuUsPerOp ?? '', errors: phase.errors });
        }
      }
    }
    const ratiosOf = (label: string) =>
      Object.fromEntries(
        KINDS.map((kind) => [
          kind,
          median(results[label]!.map((r, i) => ratio(r[kind].perSecond, results[other.host]![i]![kind].perSecond))),
        ]),
      );
    const ratios = ratiosOf(ONE_PROCESS);
    for (const label of sides.slice(0, -1).map((s) => s.label)) {
      for (const [kind, value] of Object.entries(ratiosOf(label))) rows.push({ run: `${label} ÷ ${other.host}, ${kind} (median of rounds)`, 'ops/s': value, 'p50 ms': '', 'p99 ms': '', 'CPU µs/op': '', errors: '' });
    }
    for (const side of sides.filter((s) => s.cpuSeconds)) {
      for (const kind of KINDS) {
        const cpu = results[side.label]!.map((r) => r[kind].cpuUsPerOp).filter((v): v is number => v !== undefined);
        if (cpu.length > 0) rows.push({ run: `${side.label}, ${kind}, CPU per operation (median of rounds)`, 'ops/s': '', 'p50 ms': '', 'p99 ms': '', 'CPU µs/op': Math.round(median(cpu)), errors: '' });
      }
    }
    const errors = Object.values(results).flat().flatMap((r) => Object.values(r)).filter((p) => p.firstError);
    return {
      name: 'compare',
      target: `the same Entra-shaped load against ${options.url} and against the bridge`,
      headline: { label: 'bridge ÷ other, creates per second (median of rounds)', value: ratios.create! },
      met: ratios.create! >= 1,
      rows,
      notes: [
        `${options.users} users per round and side, ${options.concurrency} concurrent, ${options.rounds} rounds alternating which side goes first, after an untimed warm-up round per side; create = userName probe + POST; memberAdd and memberRemove = one member PATCH of a group (${USERS_PER_GROUP} users per group), as Entra sends them. After each bridge round the next side waits until the bridge has delivered everything (outbox empty, no job waiting, delayed or active, its target quiet for ${QUIET_MS} ms), so the other side never shares the machine with the bridge's worker.`,
        `"${ONE_PROCESS}" runs API and delivery worker in one process${options.split ? `; "${SPLIT}" runs them as two processes` : ''}. Either stores, queues and delivers every change to a local target; the other side is measured as it is.`,
        `CPU µs/op: the CPU time of the side's own processes during the phase, per operation (the bridge's API and worker processes${options.pid === undefined ? '' : `; the other gateway's process ${options.pid}`}), without Redis or the target; the bridge's deliveries that end after the phase are not in it (the change-cost benchmark charges them all).`,
        ...(options.apiOnly ? [`"${API_ONLY}" is the API process alone: it stores and queues every change, and no worker delivers them during the run (as when workers run on other machines).`] : []),
        ...errors.slice(0, 3).map((p) => `first error: ${p.firstError}`),
      ],
      raw: { options: { ...options, token: '[redacted]' }, results },
    };
  } finally {
    await Promise.allSettled(sides.map((s) => s.pool.close()));
    await Promise.allSettled(children.map((c) => c.stop()));
    await Promise.allSettled(targets.map((t) => t.close()));
    await Promise.allSettled(queues.map((q) => q.close()));
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  }
}
