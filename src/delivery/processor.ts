import { createHash } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { BridgeError } from '../lib/errors.js';
import type { MappingPlan, MemberContext, PlannedCall, TargetAction } from '../mapping/types.js';
import type { ResourceType, ScimResource } from '../scim/types.js';
import type { DeliveryState, ResourceStore, StoredResource } from '../store/types.js';
import { classifyOutcome, type CallOutcome, type Classification } from './classify.js';
import type { TargetClient, TargetResponse } from './http-client.js';
import { silentLogger, type DeliveryLogFields, type DeliveryLogger } from './logger.js';
import type { ResourceLease, ResourceLock } from './resource-lock.js';
import type { DeliveryJobData } from './types.js';

/**
 * The delivery job: converge the target on the latest stored state of one resource. Jobs carry
 * no diff, so the processor reads the resource, compares it with what it last delivered
 * (DeliveryState) and makes only the missing calls, saving progress after each one so a retry
 * never repeats a completed call. See house-style §3.1 rule 3 and §3.4 for the outcome table.
 * @see https://docs.bullmq.io/guide/workers
 */

export interface ProcessorDeps {
  connectionId: string;
  store: ResourceStore;
  plan: MappingPlan;
  client: Pick<TargetClient, 'send'>;
  /** Enqueues a follow-up job (a group whose member just got its target id). */
  enqueue(data: DeliveryJobData): Promise<void>;
  /** Pauses the whole queue for `delayMs` (BullMQ `queue.rateLimit`); wired by worker.ts. */
  rateLimit(delayMs: number): Promise<void>;
  lock: ResourceLock;
  logger?: DeliveryLogger;
  /** How long a job waits when another delivery holds its resource. Default 500 ms. */
  lockRetryMs?: number;
}

/** What a finished job did; BullMQ keeps it as the job's return value. */
export interface DeliveryResult {
  /**
   * unsupported: the mapping does not deliver this type; purged: nothing left to deliver;
   * stale: a newer job already delivered this revision; deleted: removed from the target;
   * converged: the target matches the store; waiting: a group whose members are not linked yet.
   */
  outcome: 'unsupported' | 'purged' | 'stale' | 'deleted' | 'converged' | 'waiting';
  /** Target calls made by this attempt. */
  calls: number;
}

/** The parts of a BullMQ job the processor uses. */
export type DeliveryJob = Pick<Job<DeliveryJobData>, 'id' | 'data' | 'moveToDelayed'>;

export type DeliveryProcessor = (job: DeliveryJob, token?: string) => Promise<DeliveryResult>;

interface Run {
  type: ResourceType;
  id: string;
  lease: ResourceLease;
  log: DeliveryLogFields;
  calls: number;
  state: DeliveryState;
}

export function createProcessor(deps: ProcessorDeps): DeliveryProcessor {
  const { store, plan, client } = deps;
  const logger = deps.logger ?? silentLogger;
  const lockRetryMs = deps.lockRetryMs ?? 500;

  return async function processDelivery(job, token) {
    const { type, id, revision } = job.data;
    const log: DeliveryLogFields = { jobId: job.id, connectionId: deps.connectionId, type, resourceId: id, revision };
    if (!plan.supports(type)) return { outcome: 'unsupported', calls: 0 };

    const lease = await deps.lock.acquire(type, id);
    if (!lease) {
      logger.debug(log, 'resource busy, delaying job');
      await job.moveToDelayed(Date.now() + lockRetryMs, token);
      throw new DelayedError();
    }
    const run: Run = { type, id, lease, log, calls: 0, state: { revision: 0 } };
    try {
      const outcome = await converge(run);
      logger.info({ ...log, calls: run.calls, outcome }, 'delivery done');
      return { outcome, calls: run.calls };
    } finally {
      await lease.release();
    }
  };

  async function converge(run: Run): Promise<DeliveryResult['outcome']> {
    const [current, saved] = await Promise.all([store.getForDelivery(run.type, run.id), store.getDeliveryState(run.type, run.id)]);
    if (!current) return 'purged';
    if (saved && saved.revision >= current.revision) return 'stale';
    if (saved) run.state = saved;
    if (current.deleted) return removeFromTarget(run, current.doc);

    const targetId = run.state.targetId ?? (await link(run, current.doc));
    await syncAttributes(run, current.doc, targetId);
    const waiting = run.type === 'Group' ? await syncMembers(run, current, targetId) : 0;
    if (waiting > 0) {
      logger.info({ ...run.log, waiting }, 'members not linked yet, group stays pending');
      return 'waiting';
    }
    await save(run, { revision: current.revision });
    return 'converged';
  }

  async function removeFromTarget(run: Run, doc: ScimResource): Promise<'deleted'> {
    let targetId = run.state.targetId;
    if (!targetId && run.state.createPending && plan.has(run.type, 'lookup')) targetId = await lookup(run, doc);
    if (targetId) {
      if (plan.has(run.type, 'delete')) await call(run, { kind: 'delete' }, doc, targetId);
      else if (plan.has(run.type, 'deactivate')) await call(run, { kind: 'deactivate' }, doc, targetId, true);
    }
    await store.purge(run.type, run.id);
    return 'deleted';
  }

  /** Finds or creates the resource in the target and records its target id. */
  async function link(run: Run, doc: ScimResource): Promise<string> {
    if (plan.has(run.type, 'lookup')) {
      const found = await lookup(run, doc);
      if (found) {
        // bodyHash and active stay unknown, so the next steps bring the found account up to date.
        await save(run, { targetId: found, bodyHash: undefined, active: undefined, createPending: false });
        await enqueueGroupsOf(run);
        return found;
      }
    } else if (run.state.createPending) {
      // A previous create may have succeeded without us seeing the answer. Without a lookup in
      // the mapping there is no way to tell, so this may create a duplicate in the target.
      logger.warn({ ...run.log, code: 'GW_DELIVERY_RETRYABLE' }, 'create outcome unknown and mapping has no lookup, creating again');
    }
    await save(run, { createPending: true });
    const responses = await call(run, { kind: 'create' }, doc, undefined);
    const targetId = readTargetId(responses);
    if (!targetId) {
      throw new UnrecoverableError(`GW_MAP_NO_TARGET_ID the create response of ${run.type} ${run.id} has no target id where the mapping reads it`);
    }
    await save(run, {
      targetId,
      createPending: false,
      bodyHash: await fieldsHash(run, doc),
      active: run.type === 'User' ? true : undefined,
    });
    await enqueueGroupsOf(run);
    return targetId;
  }

  async function lookup(run: Run, doc: ScimResource): Promise<string | undefined> {
    const responses = await call(run, { kind: 'lookup' }, doc, undefined);
    return readTargetId(responses.filter(({ response }) => response.status >= 200 && response.status < 300));
  }

  /** Update when the mapped fields changed; (de)activate when `active` changed (users). */
  async function syncAttributes(run: Run, doc: ScimResource, targetId: string): Promise<void> {
    const wantActive = run.type === 'User' ? doc.active !== false : undefined;
    const toggle =
      wantActive !== undefined && wantActive !== run.state.active && plan.has(run.type, wantActive ? 'reactivate' : 'deactivate');
    if (toggle && wantActive) {
      await call(run, { kind: 'reactivate' }, doc, targetId);
      await save(run, { active: true });
    }
    const hash = await fieldsHash(run, doc);
    if (hash !== run.state.bodyHash && plan.has(run.type, 'update')) {
      await call(run, { kind: 'update' }, doc, targetId);
      await save(run, { bodyHash: hash });
    }
    if (toggle && !wantActive) {
      await call(run, { kind: 'deactivate' }, doc, targetId);
      await save(run, { active: false });
    }
  }

  /** Adds and removes members; returns how many members still wait for their target id. */
  async function syncMembers(run: Run, group: StoredResource, targetId: string): Promise<number> {
    if (!plan.has('Group', 'addMember') && !plan.has('Group', 'removeMember')) return 0;
    const desired = new Set(group.members ?? []);
    const delivered = await store.getDeliveredMembers(run.id);
    let waiting = 0;
    for (const memberId of desired) {
      if (delivered.has(memberId) || !plan.has('Group', 'addMember')) continue;
      const member = await memberContext(memberId);
      if (!member) {
        waiting += 1;
        continue;
      }
      await call(run, { kind: 'addMember', member }, group.doc, targetId);
      await store.setDeliveredMember(run.id, memberId, member.targetId);
    }
    for (const [memberId, memberTargetId] of delivered) {
      if (desired.has(memberId)) continue;
      if (plan.has('Group', 'removeMember')) {
        const type: ResourceType = (await store.getDeliveryState('Group', memberId)) ? 'Group' : 'User';
        await call(run, { kind: 'removeMember', member: { id: memberId, targetId: memberTargetId, type } }, group.doc, targetId);
      }
      await store.setDeliveredMember(run.id, memberId, null);
    }
    return waiting;
  }

  async function memberContext(memberId: string): Promise<MemberContext | undefined> {
    const user = (await store.getDeliveryState('User', memberId))?.targetId;
    if (user) return { id: memberId, targetId: user, type: 'User' };
    const group = (await store.getDeliveryState('Group', memberId))?.targetId;
    return group ? { id: memberId, targetId: group, type: 'Group' } : undefined;
  }

  /** Groups of a resource that just got its target id may have memberships waiting for it. */
  async function enqueueGroupsOf(run: Run): Promise<void> {
    const groupIds = await store.groupsOf(run.id);
    if (groupIds.length === 0) return;
    for (const group of await store.getMany('Group', groupIds)) {
      await deps.enqueue({
        connectionId: deps.connectionId,
        type: 'Group',
        id: group.id,
        revision: group.revision,
        trigger: `linked-${run.id}`,
      });
    }
  }

  /** Makes the planned calls of one action in order; anything but success throws for BullMQ. */
  async function call(
    run: Run,
    action: TargetAction,
    resource: ScimResource,
    targetId: string | undefined,
    goneIsOk?: boolean,
  ): Promise<Array<{ planned: PlannedCall; response: TargetResponse }>> {
    const calls = await mapping(() => plan.plan({ type: run.type, resource, targetId, action }));
    const done: Array<{ planned: PlannedCall; response: TargetResponse }> = [];
    for (const planned of calls) {
      if (!(await run.lease.extend())) {
        throw new BridgeError('GW_DELIVERY_RETRYABLE', `lost the delivery lock of ${run.type} ${run.id}`);
      }
      let outcome: CallOutcome;
      try {
        outcome = await client.send(planned.request);
      } catch (error) {
        outcome = { error };
      }
      run.calls += 1;
      const { method, path } = planned.request;
      const verdict = classifyOutcome({ method, path, action: action.kind, ...(goneIsOk ? { goneIsOk } : {}) }, outcome);
      if (verdict.kind !== 'ok') await fail(run, action, verdict);
      done.push({ planned, response: outcome as TargetResponse });
    }
    return done;
  }

  async function fail(run: Run, action: TargetAction, verdict: Exclude<Classification, { kind: 'ok' }>): Promise<never> {
    const fields = { ...run.log, action: action.kind };
    switch (verdict.kind) {
      case 'reject':
        logger.warn({ ...fields, code: verdict.code, status: verdict.status }, 'delivery rejected');
        throw new UnrecoverableError(verdict.reason);
      case 'retry':
        logger.info({ ...fields, code: verdict.code }, 'delivery failed, will retry');
        throw new BridgeError(verdict.code, verdict.reason);
      case 'rateLimited':
        logger.warn({ ...fields, code: 'GW_DELIVERY_RETRYABLE', delayMs: verdict.delayMs }, 'target rate limit, pausing queue');
        await deps.rateLimit(verdict.delayMs);
        throw Worker.RateLimitError();
    }
  }

  async function fieldsHash(run: Run, doc: ScimResource): Promise<string> {
    const fields = await mapping(() => plan.fields(run.type, doc));
    return createHash('sha256').update(stableJson(fields)).digest('base64url');
  }

  async function save(run: Run, patch: Partial<DeliveryState>): Promise<void> {
    run.state = { ...run.state, ...patch };
    await store.setDeliveryState(run.type, run.id, run.state);
  }
}

/** Mapping failures are permanent until the mapping or the data changes. */
async function mapping<T>(evaluate: () => Promise<T>): Promise<T> {
  try {
    return await evaluate();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UnrecoverableError(message.startsWith('GW_MAP_') ? message : `GW_MAP_EVAL ${message}`);
  }
}

function readTargetId(responses: Array<{ planned: PlannedCall; response: TargetResponse }>): string | undefined {
  for (const { planned, response } of [...responses].reverse()) {
    const id = planned.reader?.readTargetId({ status: response.status, headers: response.headers, body: response.json });
    if (id !== undefined && id !== '') return id;
  }
  return undefined;
}

/** JSON with sorted keys, so equal field sets hash equally whatever their key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
