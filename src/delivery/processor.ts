import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { BridgeError } from '../lib/errors.js';
import type { MappingPlan, PlannedCall, TargetAction } from '../mapping/types.js';
import type { ResourceType, ScimResource } from '../scim/types.js';
import type { DeliveryState, ResourceStore } from '../store/types.js';
import { classifyOutcome, type CallOutcome, type Classification } from './classify.js';
import type { TargetClient, TargetResponse } from './http-client.js';
import { evaluating, MappingFailed, planDelivery, type DeliveryStep, type TargetIdResolver } from './plan.js';
import { silentLogger, type DeliveryLogFields, type DeliveryLogger } from './logger.js';
import type { ResourceLease, ResourceLock } from './resource-lock.js';
import type { DeliveryJobData } from './types.js';

/**
 * The delivery job: converge the target on the latest stored state of one resource. Jobs carry
 * no diff: under the resource's lock the processor asks the pure planner (plan.ts) which steps
 * the target is missing, then makes each step's calls, classifies the answers and saves the
 * step's effect before the next one, so a retry never repeats a completed call.
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
  /** The document being delivered (the tombstone's last document after a delete). */
  doc?: ScimResource;
}

/** Plans of one job: a create re-plans once; a bound keeps a confused mapping from looping. */
const MAX_PLANS = 4;

export function createProcessor(deps: ProcessorDeps): DeliveryProcessor {
  const { store, plan: mapping, client } = deps;
  const logger = deps.logger ?? silentLogger;
  const lockRetryMs = deps.lockRetryMs ?? 500;
  const resolver: TargetIdResolver = {
    async member(memberId) {
      const user = (await store.getDeliveryState('User', memberId))?.targetId;
      if (user) return { id: memberId, targetId: user, type: 'User' };
      const group = (await store.getDeliveryState('Group', memberId))?.targetId;
      return group ? { id: memberId, targetId: group, type: 'Group' } : undefined;
    },
    async isGroup(memberId) {
      return (await store.getDeliveryState('Group', memberId)) !== null;
    },
  };

  return async function processDelivery(job, token) {
    const { type, id, revision } = job.data;
    const log: DeliveryLogFields = { jobId: job.id, connectionId: deps.connectionId, type, resourceId: id, revision };
    if (!mapping.supports(type)) return { outcome: 'unsupported', calls: 0 };

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
    } catch (error) {
      if (error instanceof MappingFailed) throw new UnrecoverableError(error.message);
      throw error;
    } finally {
      await lease.release();
    }
  };

  /** Lock held: plan, then make and record each step; plan again after a step that linked. */
  async function converge(run: Run): Promise<DeliveryResult['outcome']> {
    for (let round = 0; round < MAX_PLANS; round += 1) {
      const [current, saved] = await Promise.all([store.getForDelivery(run.type, run.id), store.getDeliveryState(run.type, run.id)]);
      if (saved) run.state = saved;
      if (current) run.doc = current.doc;
      const members = run.type === 'Group' && current && !current.deleted ? await store.getDeliveredMembers(run.id) : new Map<string, string>();
      const planned = await planDelivery({ type: run.type, current, delivered: { state: saved, members }, mapping, resolver });
      const relink = await execute(run, planned.steps);
      if (relink || !planned.complete) continue;
      if (planned.outcome === 'waiting') {
        logger.info({ ...run.log, waiting: planned.waiting.length }, 'members not linked yet, group stays pending');
      }
      if (planned.revision !== undefined) await save(run, { revision: planned.revision });
      return planned.outcome;
    }
    throw new BridgeError('GW_DELIVERY_RETRYABLE', `${run.type} ${run.id} did not converge in ${MAX_PLANS} plans`);
  }

  /** Runs the steps in order; true when a lookup linked an account, so the rest must be re-planned. */
  async function execute(run: Run, steps: DeliveryStep[]): Promise<boolean> {
    for (const step of steps) {
      if (step.unsure) {
        // A previous create may have succeeded without us seeing the answer. Without a lookup in
        // the mapping there is no way to tell, so this may create a duplicate in the target.
        logger.warn({ ...run.log, code: 'GW_DELIVERY_RETRYABLE' }, 'create outcome unknown and mapping has no lookup, creating again');
      }
      if (step.before) await save(run, step.before);
      const responses = step.action ? await call(run, step.action, step.goneIsOk) : [];
      if (step.link) {
        const ok = step.link === 'lookup' ? responses.filter(({ response }) => response.status >= 200 && response.status < 300) : responses;
        const targetId = readTargetId(ok);
        if (step.link === 'lookup' && targetId) {
          // bodyHash and active stay unknown, so the next plan brings the found account up to date.
          await save(run, { targetId, bodyHash: undefined, active: undefined, createPending: false });
          await enqueueGroupsOf(run);
          return true;
        }
        if (step.link === 'create') {
          if (!targetId) {
            throw new UnrecoverableError(
              `GW_MAP_NO_TARGET_ID the create response of ${run.type} ${run.id} has no target id where the mapping reads it`,
            );
          }
          await save(run, { ...step.after, targetId });
          await enqueueGroupsOf(run);
          continue;
        }
      }
      if (step.after) await save(run, step.after);
      if (step.member) await store.setDeliveredMember(run.id, step.member.id, step.member.targetId);
      if (step.purge) await store.purge(run.type, run.id);
    }
    return false;
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
  async function call(run: Run, action: TargetAction, goneIsOk?: boolean): Promise<Array<{ planned: PlannedCall; response: TargetResponse }>> {
    const resource = run.doc;
    if (!resource) throw new TypeError('call() before the resource was read');
    const targetId = action.kind === 'create' || action.kind === 'lookup' ? undefined : run.state.targetId;
    const calls = await evaluating(() => mapping.plan({ type: run.type, resource, targetId, action }));
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

  async function save(run: Run, patch: Partial<DeliveryState>): Promise<void> {
    run.state = { ...run.state, ...patch };
    await store.setDeliveryState(run.type, run.id, run.state);
  }
}

function readTargetId(responses: Array<{ planned: PlannedCall; response: TargetResponse }>): string | undefined {
  for (const { planned, response } of [...responses].reverse()) {
    const id = planned.reader?.readTargetId({ status: response.status, headers: response.headers, body: response.json });
    if (id !== undefined && id !== '') return id;
  }
  return undefined;
}
