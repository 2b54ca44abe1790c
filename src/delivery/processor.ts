import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { BridgeError } from '../lib/errors.js';
import { answerShape } from '../mapping/target-id.js';
import type { EvalContext, MappingPlan, PlannedCall, TargetAction, TargetAnswer } from '../mapping/types.js';
import type { ResourceType, ScimResource } from '../scim/types.js';
import type { DeliveryState, LinkFollowUps, ResourceStore } from '../store/types.js';
import { classifyOutcome, type CallOutcome, type Classification } from './classify.js';
import type { TargetClient, TargetResponse } from './http-client.js';
import { evaluating, MappingFailed, planDelivery, type DeliveryStep, type TargetIdResolver } from './plan.js';
import { silentLogger, type DeliveryLogFields, type DeliveryLogger } from './logger.js';
import { redactBody } from './redact.js';
import type { ResourceLease, ResourceLock } from './resource-lock.js';
import type { DeliveryJobData } from './types.js';
import { describeCall } from '../ops/call-record.js';
import { attachFailure, type CallRecord, type DeliveryFailure } from '../ops/failure.js';

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
  /** Told about every target call (ops: timeline, metrics); see ops/delivery-observer.ts. */
  onCall?: (jobId: string | undefined, record: CallRecord) => void;
  /**
   * The lock and the store send on one auto-pipelined Redis connection (the runtime's), so
   * commands issued together go out in one write and Redis runs them in the order issued. The
   * processor then sends a job's first read with the lock, its follow-up reads with the save
   * before them, and the lock's release with the last save: the same commands in the same order,
   * in fewer round trips. Off (each awaited in turn) when they may be on different connections.
   */
  pipelined?: boolean;
}

/** What a finished job did; BullMQ keeps it as the job's return value. */
export interface DeliveryResult {
  /**
   * unsupported: the mapping does not deliver this type; purged: nothing left to deliver;
   * stale: a newer job already delivered this revision; deleted: removed from the target;
   * converged: the target matches the store; waiting: a group whose members are not linked yet;
   * continued: a group with more member calls than one job makes (`memberCallsPerJob`), which
   * a follow-up job goes on with.
   * (A resource whose `ref:` field names a resource without a target id yet is retried with
   * GW_MAP_REF_PENDING instead.)
   */
  outcome: 'unsupported' | 'purged' | 'stale' | 'deleted' | 'converged' | 'waiting' | 'continued';
  /** Target calls made by this attempt. */
  calls: number;
  /** Version of the mapping the job ran with (hot-reloadable mappings). */
  mapping?: string;
}

/** The parts of a BullMQ job the processor uses. */
export type DeliveryJob = Pick<Job<DeliveryJobData>, 'id' | 'data' | 'moveToDelayed'> & Partial<Pick<Job<DeliveryJobData>, 'attemptsMade'>>;

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
  /** What the current plan's calls are rendered with. */
  context: EvalContext;
  /** A follow-up job (a reference linked, a group changed): re-plan even an already delivered revision. */
  recheck: boolean;
  /** An earlier attempt of this job failed. */
  retried: boolean;
  /** The mapping this job runs with, taken once at its start (it may be reloaded meanwhile). */
  mapping: MappingPlan;
  /** `state` has changes not written yet (see stage()). */
  dirty?: boolean;
  /** The job's first read, sent with its lock (pipelined mode). */
  prefetched?: Promise<DeliveryRead>;
  /**
   * Pipelined, a complete plan that ends with a create: the target id is not saved on its own
   * but with the job's last save, and the follow-up lookups (`followingUp`) go out right behind it.
   */
  idWithLastSave?: boolean;
  followingUp?: Promise<void>;
  /** The job's last save, sent with the lock's release (pipelined mode). */
  lastSave?: Promise<void>;
}

/** The resource as the planner needs it, and its delivery state (null: never delivered, or not read). */
type DeliveryRead = [Awaited<ReturnType<ResourceStore['getForDelivery']>>, DeliveryState | null];

/** What one step's calls came to. */
interface CallsDone {
  responses: Array<{ planned: PlannedCall; response: TargetResponse }>;
  /** A create answered what an `on:` rule calls `exists`. */
  exists?: boolean;
}

/** Plans of one job: a create re-plans once; a bound keeps a confused mapping from looping. */
const MAX_PLANS = 4;

export function createProcessor(deps: ProcessorDeps): DeliveryProcessor {
  const { store, client } = deps;
  const logger = deps.logger ?? silentLogger;
  const lockRetryMs = deps.lockRetryMs ?? 500;
  const resolver = storeResolver(store);

  return async function processDelivery(job, token) {
    const { type, id, revision } = job.data;
    const log: DeliveryLogFields = { jobId: job.id, connectionId: deps.connectionId, type, resourceId: id, revision };
    const mapping = currentMapping(deps.plan);
    const version = versionOf(mapping);
    if (!mapping.supports(type) && !(type === 'Group' && mapping.usesGroups('User'))) return { outcome: 'unsupported', calls: 0, ...version };

    const pipelined = deps.pipelined === true;
    const acquiring = deps.lock.acquire(type, id);
    // Pipelined: this read goes out right behind the lock's SET NX and runs after it, so it
    // sees what the previous holder saved before releasing. Unused when the lock is busy.
    const firstRead = pipelined ? read(type, id, true) : undefined;
    firstRead?.catch(() => {});
    const lease = await acquiring;
    if (!lease) {
      logger.debug(log, 'resource busy, delaying job');
      await job.moveToDelayed(Date.now() + lockRetryMs, token);
      throw new DelayedError();
    }
    const recheck = job.data.trigger !== undefined;
    const retried = (job.attemptsMade ?? 0) > 0;
    const run: Run = { type, id, lease, log, calls: 0, state: { revision: 0 }, context: {}, recheck, retried, mapping, ...(firstRead ? { prefetched: firstRead } : {}) };
    let released: Promise<void> | undefined;
    try {
      const outcome = await converge(run).catch(async (error: unknown) => {
        // What a step staged is still worth keeping; the job's own failure matters more.
        if (run.dirty) await save(run, {}).catch(() => {});
        throw error;
      });
      if (run.lastSave) {
        // Sent in the same write as the save, and run after it: the lock is held until it lands.
        released = lease.release();
        released.catch(() => {});
        await run.lastSave;
        // The follow-up jobs are queued before the job counts as done.
        await run.followingUp;
      }
      // The attempt's summary line is logged by the ops observer (one line per attempt).
      logger.debug({ ...log, calls: run.calls, outcome, ...version }, 'delivery done');
      return { outcome, calls: run.calls, ...version };
    } catch (error) {
      if (error instanceof MappingFailed) {
        throw attachFailure(new UnrecoverableError(error.message), { code: mappingCode(error), message: error.message });
      }
      throw error;
    } finally {
      await (released ?? lease.release());
    }
  };

  /** The document, and the delivery state when asked (a job's first read; later ones keep its own). */
  function read(type: ResourceType, id: string, withState: boolean): Promise<DeliveryRead> {
    return withState ? store.getWithDeliveryState(type, id) : Promise.all([store.getForDelivery(type, id), null]);
  }

  /** Lock held: plan, then make and record each step; plan again after a step that linked. */
  async function converge(run: Run): Promise<DeliveryResult['outcome']> {
    for (let round = 0; round < MAX_PLANS; round += 1) {
      // Under the lease only this job writes the delivery state: after the first read, what it
      // saved is what Redis holds, so later rounds re-read the document only.
      const [current, stored] = await (run.prefetched ?? read(run.type, run.id, round === 0));
      run.prefetched = undefined;
      const saved = round === 0 ? stored : run.state;
      if (saved) run.state = saved;
      if (current) run.doc = current.doc;
      const members = run.type === 'Group' && current ? await store.getDeliveredMembers(run.id) : new Map<string, string>();
      const planned = await planDelivery({ type: run.type, current, delivered: { state: saved, members }, mapping: run.mapping, resolver, recheck: run.recheck });
      run.context = planned.context;
      for (const reference of planned.references) await store.addDependant(reference, { type: run.type, id: run.id });
      if (planned.outcome === 'pending') {
        // Never sent without the reference: wait (BullMQ backoff, bounded by the attempts); the
        // referenced resource re-queues this one as soon as it links.
        const names = planned.pending.map((ref) => `${ref.type} ${ref.id} (${ref.where})`).join(', ');
        throw new BridgeError('GW_MAP_REF_PENDING', `GW_MAP_REF_PENDING ${run.type} ${run.id} waits for the target id of ${names}`);
      }
      if (planned.steps.some((step) => step.purge)) await enqueueAffected(run, planned.affected, current?.revision ?? 0);
      // Pipelined, a complete plan's last save follows its steps at once (below), so the last
      // step's own save can go with it; a 'continued' group job returns without that save.
      const lastSaveFollows = deps.pipelined === true && planned.complete && planned.outcome !== 'continued';
      const relink = await execute(run, planned.steps, planned.complete, lastSaveFollows);
      if (relink || !planned.complete) continue;
      if (planned.outcome === 'continued') {
        // The member calls of this job are done and recorded; the rest is a new job, so a group
        // of many thousands of members never is one endless job (and a retry repeats nothing).
        await deps.enqueue({
          connectionId: deps.connectionId,
          type: run.type,
          id: run.id,
          revision: current?.revision ?? 0,
          trigger: `members-${planned.continuation ?? 'next'}`,
        });
        logger.debug({ ...run.log, calls: run.calls }, 'more member changes than one job makes, continuing in a follow-up job');
        await enqueueAffected(run, planned.affected, current?.revision ?? 0);
        return 'continued';
      }
      if (planned.outcome === 'waiting') {
        logger.info({ ...run.log, waiting: planned.waiting.length }, 'members not linked yet, group stays pending');
      }
      if (planned.revision !== undefined || run.dirty) {
        const patch = planned.revision !== undefined ? { revision: planned.revision } : {};
        // A create's follow-up lookups come back from the save that holds its target id.
        const linking = run.idWithLastSave ? saveLinked(run, patch) : undefined;
        const last = linking ? linking.then(() => {}) : save(run, patch);
        // Pipelined, the job's caller sends the lock's release with it and then waits for both.
        if (deps.pipelined) {
          const purged = run.lastSave;
          run.lastSave = purged ? Promise.all([purged, last]).then(() => {}) : last;
          run.lastSave.catch(() => {});
          if (linking) {
            run.followingUp = linking.then((waiting) => Promise.all([enqueueGroups(run, waiting.groups), enqueueDependants(run, waiting.dependants)])).then(() => {});
            run.followingUp.catch(() => {});
          }
        } else {
          await last;
        }
      }
      if (!planned.steps.some((step) => step.purge)) await enqueueAffected(run, planned.affected, current?.revision ?? 0);
      if (planned.outcome === 'stale' && run.retried && round === 0 && run.state.targetId) {
        // The revision was delivered by an earlier attempt of this job, so what failed came after
        // its last save: maybe the follow-ups of a new target id. Queue them again (a queued
        // follow-up only re-plans its resource); otherwise they would wait for the next change.
        await Promise.all([enqueueGroupsOf(run), enqueueDependants(run)]);
      }
      return planned.outcome;
    }
    throw new BridgeError('GW_DELIVERY_RETRYABLE', `${run.type} ${run.id} did not converge in ${MAX_PLANS} plans`);
  }

  /**
   * Runs the steps in order; true when a lookup linked an account, so the rest must be re-planned.
   * With `lastSaveFollows`, the last step's state is staged for the job's last save, which goes
   * out right after it: one script instead of two, sent at the same moment.
   */
  async function execute(run: Run, steps: DeliveryStep[], complete: boolean, lastSaveFollows = false): Promise<boolean> {
    for (const [index, step] of steps.entries()) {
      if (step.unsure) {
        // A previous create may have succeeded without us seeing the answer. Without a lookup in
        // the mapping there is no way to tell, so this may create a duplicate in the target.
        logger.warn({ ...run.log, code: 'GW_DELIVERY_RETRYABLE' }, 'create outcome unknown and mapping has no lookup, creating again');
      }
      if (step.before) await save(run, step.before);
      if (step.purge) await enqueueDependants(run);
      run.idWithLastSave = deps.pipelined === true && complete && step.link === 'create' && index === steps.length - 1;
      const done = step.action ? await callsOf(run, step, step.action).catch((error: unknown) => failedCreate(run, step, error)) : { responses: [] };
      if (done.exists) {
        // The target says the account is already there (an `on:` rule): find it and link it.
        const found = await lookup(run);
        if (!found) {
          const message = `GW_DELIVERY_REJECTED the create of ${run.type} ${run.id} was answered "exists" (on: rule), but the lookup found no account`;
          throw attachFailure(new UnrecoverableError(message), { code: 'GW_DELIVERY_REJECTED', action: 'lookup', message });
        }
        await linked(run, found);
        return true;
      }
      if (step.link === 'lookup') {
        const targetId = readTargetId(done.responses.filter(({ response }) => response.status >= 200 && response.status < 300));
        if (targetId) {
          await linked(run, targetId);
          return true;
        }
      }
      if (step.link === 'create') {
        if (!run.state.targetId) failedCreate(run, step, noTargetId(run, done.responses));
        // The target id is saved (callsOf), or goes with the job's last save together with the
        // follow-up lookups (idWithLastSave, converge); the rest of the create's effect goes with
        // the job's next save, one round trip later at most. Lost, it only costs one more update.
        stage(run, step.after ?? {});
        if (!run.idWithLastSave) await Promise.all([enqueueGroupsOf(run), enqueueDependants(run)]);
        continue;
      }
      if (step.after) {
        const last = index === steps.length - 1;
        if (lastSaveFollows && last && !step.member && !step.members && !step.purge) stage(run, step.after);
        else await save(run, step.after);
      }
      if (step.member) await store.setDeliveredMember(run.id, step.member.id, step.member.targetId);
      if (step.members) await store.setDeliveredMembers(run.id, step.members);
      if (step.purge) {
        const purged = store.purge(run.type, run.id);
        // Pipelined, the job's caller sends the lock's release right behind it (see converge).
        if (deps.pipelined && index === steps.length - 1) {
          run.lastSave = purged;
          purged.catch(() => {});
        } else {
          await purged;
        }
      }
    }
    return false;
  }

  /**
   * A create that failed may still have reached the target (a timeout, a 502 after the account
   * was made). Without a lookup in the mapping the mark was stored before the call (plan.ts);
   * with one it is staged only now, for ops to show ("create outcome unknown"), and saved with
   * the job's failure (processDelivery). The retry looks up first either way.
   */
  function failedCreate(run: Run, step: DeliveryStep, error: unknown): never {
    if (step.link === 'create' && !run.state.targetId && !run.state.createPending) stage(run, { createPending: true });
    throw error;
  }

  /** Records an account found by lookup; bodyHash and active stay unknown, so the next plan brings it up to date. */
  async function linked(run: Run, targetId: string): Promise<void> {
    await save(run, { targetId, bodyHash: undefined, active: undefined, createPending: false, progress: undefined });
    await Promise.all([enqueueGroupsOf(run), enqueueDependants(run)]);
  }

  async function lookup(run: Run): Promise<string | undefined> {
    const done = await callsOf(run, { key: 'lookup' }, { kind: 'lookup' });
    return readTargetId(done.responses.filter(({ response }) => response.status >= 200 && response.status < 300));
  }

  /**
   * Makes the calls of one action in order, each rendered after the previous one answered (so it
   * can use captured values). With several calls, progress is saved after each one, and a retry
   * of the same step resumes after the last that succeeded.
   */
  async function callsOf(run: Run, step: Pick<DeliveryStep, 'key' | 'goneIsOk' | 'link'>, action: TargetAction): Promise<CallsDone> {
    const resource = run.doc;
    if (!resource) throw new TypeError('callsOf() before the resource was read');
    const count = run.mapping.callCount(run.type, action.kind);
    const saved = run.state.progress;
    const progress = saved && saved.step === step.key ? { ...saved, captured: { ...saved.captured } } : { step: step.key ?? action.kind, done: 0, captured: {} };
    const responses: CallsDone['responses'] = [];
    for (let index = progress.done; index < count; index += 1) {
      const input = { type: run.type, resource, targetId: run.state.targetId, action, context: run.context, captured: progress.captured };
      const planned = await evaluating(() => run.mapping.planCall(input, index));
      if (planned) {
        const response = await send(run, action, planned, step.goneIsOk);
        if (response === 'exists') return { responses, exists: true };
        responses.push({ planned, response });
        const answer = answerOf(response);
        if (planned.capture) Object.assign(progress.captured, planned.capture(answer));
        // A create's id is saved the moment it is known: later calls of the list use it, and a
        // retry resumes the create instead of creating again.
        const createdId = action.kind === 'create' ? planned.reader?.readTargetId(answer) : undefined;
        if (createdId && run.idWithLastSave && index === count - 1) {
          // Sent with the job's last save, with no I/O in between (converge).
          stage(run, { targetId: createdId, createPending: false });
        } else if (createdId) {
          await save(run, { targetId: createdId, createPending: false });
        }
      }
      progress.done = index + 1;
      if (count > 1 && index < count - 1) await save(run, { progress: { ...progress } });
    }
    if (run.state.progress) await save(run, { progress: undefined });
    return { responses };
  }

  /** One call: send it, apply the call's `on:` rules, then the default table; anything but success throws. */
  async function send(run: Run, action: TargetAction, planned: PlannedCall, goneIsOk?: boolean): Promise<TargetResponse | 'exists'> {
    if (!(await run.lease.extend())) {
      throw new BridgeError('GW_DELIVERY_RETRYABLE', `lost the delivery lock of ${run.type} ${run.id}`);
    }
    const started = performance.now();
    let outcome: CallOutcome;
    try {
      outcome = await client.send(planned.request);
    } catch (error) {
      outcome = { error };
    }
    run.calls += 1;
    const { method, path } = planned.request;
    /** Reports the call to the ops observer; returns its failure as data, if it failed. */
    const observe = (verdict: Classification): DeliveryFailure | undefined => {
      const durationMs = performance.now() - started;
      const { record, failure } = describeCall({ action, request: planned.request, outcome, verdict, durationMs, targetId: run.state.targetId });
      deps.onCall?.(run.log.jobId, record);
      return failure;
    };
    if ('status' in outcome && planned.respond) {
      const verdict = await planned.respond(answerOf(outcome as TargetResponse));
      if (verdict) {
        const where = `${method} ${path.split('?')[0]} (${planned.where ?? action.kind})`;
        switch (verdict.means) {
          case 'ok':
          case 'gone':
            observe({ kind: 'ok' });
            return outcome as TargetResponse;
          case 'exists':
            observe({ kind: 'ok' });
            return 'exists';
          case 'retry': {
            const retry: Classification = { kind: 'retry', code: 'GW_DELIVERY_RETRYABLE', reason: `GW_DELIVERY_RETRYABLE ${where} answered ${outcome.status} (on: retry)` };
            await fail(run, action, retry, observe(retry));
            break;
          }
          case 'invalid': {
            const invalid: Classification = {
              kind: 'reject',
              code: 'GW_DELIVERY_INVALID_VALUE',
              status: outcome.status,
              reason: `GW_DELIVERY_INVALID_VALUE ${where} answered ${outcome.status}: ${redactBody(verdict.detail ?? outcome.bodyText) || '(no detail)'}`,
            };
            await fail(run, action, invalid, observe(invalid));
          }
        }
      }
    }
    const verdict = classifyOutcome({ method, path, action: action.kind, ...(goneIsOk ? { goneIsOk } : {}) }, outcome);
    const failure = observe(verdict);
    if (verdict.kind !== 'ok') await fail(run, action, verdict, failure);
    return outcome as TargetResponse;
  }

  /** Groups of a resource that just got its target id may have memberships waiting for it. */
  async function enqueueGroupsOf(run: Run): Promise<void> {
    await enqueueGroups(run, await store.groupsOf(run.id));
  }

  async function enqueueGroups(run: Run, groupIds: string[]): Promise<void> {
    if (groupIds.length === 0) return;
    for (const group of await store.revisions('Group', groupIds)) {
      await deps.enqueue({ connectionId: deps.connectionId, type: 'Group', id: group.id, revision: group.revision, trigger: `linked-${run.id}` });
    }
  }

  /** Resources whose `ref:` field names this one: their field changes when it links or goes. */
  async function enqueueDependants(run: Run, known?: Array<{ type: ResourceType; id: string }>): Promise<void> {
    for (const dependant of known ?? (await store.dependantsOf({ type: run.type, id: run.id }))) {
      const current = await store.getForDelivery(dependant.type, dependant.id);
      if (!current || current.deleted) continue;
      await deps.enqueue({
        connectionId: deps.connectionId,
        type: dependant.type,
        id: dependant.id,
        revision: current.revision,
        trigger: `ref-${run.type}-${run.id}-r${run.state.revision}-${run.state.targetId ?? 'gone'}`,
      });
    }
  }

  /** Users whose group-derived fields may have changed with this group. */
  async function enqueueAffected(run: Run, userIds: string[], groupRevision: number): Promise<void> {
    if (userIds.length === 0) return;
    for (const user of await store.revisions('User', userIds)) {
      await deps.enqueue({
        connectionId: deps.connectionId,
        type: 'User',
        id: user.id,
        revision: user.revision,
        trigger: `group-${run.id}-r${groupRevision}`,
      });
    }
  }

  /** Throws for BullMQ, with the failure as data on the error (see ops/failure.ts). */
  async function fail(
    run: Run,
    action: TargetAction,
    verdict: Exclude<Classification, { kind: 'ok' }>,
    failure: DeliveryFailure | undefined,
  ): Promise<never> {
    const fields = { ...run.log, action: action.kind };
    const withFailure = <E extends Error>(error: E): E => (failure ? attachFailure(error, failure) : error);
    switch (verdict.kind) {
      case 'reject':
        logger.debug({ ...fields, code: verdict.code, status: verdict.status }, 'delivery rejected');
        throw withFailure(new UnrecoverableError(verdict.reason));
      case 'retry':
        logger.debug({ ...fields, code: verdict.code }, 'delivery failed, will retry');
        throw withFailure(new BridgeError(verdict.code, verdict.reason));
      case 'rateLimited':
        logger.warn({ ...fields, code: 'GW_DELIVERY_RETRYABLE', delayMs: verdict.delayMs }, 'target rate limit, pausing queue');
        await deps.rateLimit(verdict.delayMs);
        throw withFailure(Worker.RateLimitError());
    }
  }

  async function save(run: Run, patch: Partial<DeliveryState>): Promise<void> {
    await store.setDeliveryState(run.type, run.id, saving(run, patch));
  }

  /** save(), for the state that holds a new target id: answers what waits for that id. */
  function saveLinked(run: Run, patch: Partial<DeliveryState>): Promise<LinkFollowUps> {
    return store.linkDeliveryState(run.type, run.id, saving(run, patch));
  }

  /** The state to write: the patch applied, and nothing staged left unwritten. */
  function saving(run: Run, patch: Partial<DeliveryState>): DeliveryState {
    run.state = { ...run.state, ...patch };
    run.dirty = false;
    return run.state;
  }

  /** Changes the state in memory only; the next save() writes it (the whole state) too. */
  function stage(run: Run, patch: Partial<DeliveryState>): void {
    run.state = { ...run.state, ...patch };
    run.dirty = true;
  }
}

/** A reloadable mapping's version of the moment; a plain plan as it is. */
function currentMapping(plan: MappingPlan): MappingPlan {
  const reloadable = plan as MappingPlan & { current?: () => MappingPlan };
  return typeof reloadable.current === 'function' ? reloadable.current() : plan;
}

function versionOf(plan: MappingPlan): { mapping?: string } {
  const { version } = plan as MappingPlan & { version?: unknown };
  return typeof version === 'string' ? { mapping: version } : {};
}

/** The planner's questions, answered from the store's delivery states. */
function storeResolver(store: ResourceStore): TargetIdResolver {
  return {
    async member(memberId) {
      const user = (await store.getDeliveryState('User', memberId))?.targetId;
      if (user) return { id: memberId, targetId: user, type: 'User' };
      const group = (await store.getDeliveryState('Group', memberId))?.targetId;
      return group ? { id: memberId, targetId: group, type: 'Group' } : undefined;
    },
    async isGroup(memberId) {
      return (await store.getDeliveryState('Group', memberId)) !== null;
    },
    async reference(type, id) {
      const targetId = (await store.getDeliveryState(type, id))?.targetId;
      if (targetId) return targetId;
      return (await store.get(type, id)) ? undefined : null;
    },
    async groupsOf(userId) {
      const groups = await store.getMany('Group', await store.groupsOf(userId));
      return groups.map(({ id, doc }) => ({
        id,
        ...(typeof doc.displayName === 'string' ? { displayName: doc.displayName } : {}),
        ...(typeof doc.externalId === 'string' ? { externalId: doc.externalId } : {}),
      }));
    },
  };
}

function answerOf(response: TargetResponse): TargetAnswer {
  return { status: response.status, headers: response.headers, body: response.json, bodyText: response.bodyText };
}

function readTargetId(responses: CallsDone['responses']): string | undefined {
  for (const { planned, response } of [...responses].reverse()) {
    const id = planned.reader?.readTargetId(answerOf(response));
    if (id !== undefined && id !== '') return id;
  }
  return undefined;
}

/** GW_MAP_NO_TARGET_ID naming the `targetId` path and what the answer had instead. */
function noTargetId(run: Run, responses: CallsDone['responses']): UnrecoverableError {
  const error = describeNoTargetId(run, responses);
  return attachFailure(error, { code: 'GW_MAP_NO_TARGET_ID', action: 'create', message: error.message });
}

/** The `GW_MAP_*` code of a mapping failure (the mapping error it wraps carries one). */
function mappingCode(error: MappingFailed): string {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('GW_MAP_') ? code : 'GW_MAP_EVAL';
}

function describeNoTargetId(run: Run, responses: CallsDone['responses']): UnrecoverableError {
  const withReader = responses.filter(({ planned }) => planned.reader);
  const last = withReader[withReader.length - 1];
  if (!last?.planned.reader) {
    return new UnrecoverableError(`GW_MAP_NO_TARGET_ID the create of ${run.type} ${run.id} made no call with a targetId (all skipped by when:)`);
  }
  const { planned, response } = last;
  const spec = planned.reader?.spec ?? '';
  return new UnrecoverableError(
    `GW_MAP_NO_TARGET_ID the create answer of ${run.type} ${run.id} (${planned.request.method} ${planned.request.path.split('?')[0]} → ${response.status}) has no id at targetId "${spec}" (${planned.where ?? 'create'}); the answer had ${answerShape(response.json)}`,
  );
}
