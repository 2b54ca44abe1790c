import { UnrecoverableError } from 'bullmq';
import type { ConfirmOutcome, ResourceStore } from '../store/types.js';
import { runInJobContext, type JobContext } from './job-context.js';
import type { DeliveryLogger } from './logger.js';
import type { DeliveryJob } from './processor.js';
import { targetDetail } from './target-detail.js';
import type { DeliveryJobData } from './types.js';

/**
 * The worker's half of `delivery.confirm.mode: first-attempt`: after each delivery attempt it
 * tells the store what happened, and a writer still waiting for that revision gets the answer
 * (`ResourceStore.settleConfirmation`). A permanent target rejection rolls the write back there;
 * the rollback is a write with its own outbox entries, so the outbox relay queues the restored
 * state and the target converges on it too (undoing any call of the rejected attempt that went
 * through). Only the first report for a revision counts.
 */

export interface ConfirmReporterDeps {
  connectionId: string;
  store: ResourceStore;
  logger: DeliveryLogger;
}

export type ReportedRun = <T>(job: Pick<DeliveryJob, 'id' | 'data'>, run: () => Promise<T>) => Promise<T>;

/** Errors that mean "not attempted yet", not an outcome: BullMQ moved the job aside. */
const NOT_ATTEMPTED = new Set(['DelayedError', 'WaitingError', 'WaitingChildrenError']);

export function createConfirmReporter(deps: ConfirmReporterDeps): ReportedRun {
  const { store, connectionId, logger } = deps;

  async function report(data: DeliveryJobData, revision: number, outcome: ConfirmOutcome): Promise<void> {
    const settled = await store.settleConfirmation(data.type, data.id, revision, outcome);
    if (settled.kind !== 'restored' && settled.kind !== 'removed') return;
    const log = { connectionId, type: data.type, resourceId: data.id, revision, code: 'GW_DELIVERY_REJECTED' };
    // The rollback's writes left outbox entries, like any write: the outbox relay queues them.
    logger.warn({ ...log, outcome: settled.kind }, 'target rejected the first attempt: the change was rolled back');
  }

  return async function reported(job, run) {
    const { type, id } = job.data;
    // The revision the attempt works on is at least this one (the processor reads after us).
    const revision = await store.getRevision(type, id);
    const context: JobContext = {};
    let outcome: ConfirmOutcome | undefined;
    try {
      const result = await runInJobContext(context, run);
      outcome = { kind: 'ok' };
      return result;
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (!NOT_ATTEMPTED.has(name)) outcome = rejectionOf(err, context) ?? { kind: 'transient' };
      throw err;
    } finally {
      if (revision !== null && outcome) {
        await report(job.data, revision, outcome).catch((err: unknown) => {
          // The writer then waits until its time runs out and answers success: the safe side.
          logger.warn({ connectionId, jobId: job.id, err: err instanceof Error ? err.message : String(err) }, 'could not report a first attempt');
        });
      }
    }
  };
}

/** Permanent failures that are the target refusing the data: they roll back and reach Entra. */
const REJECTION_CODES = ['GW_DELIVERY_REJECTED', 'GW_DELIVERY_INVALID_VALUE'];

function rejectionOf(err: unknown, context: JobContext): ConfirmOutcome | undefined {
  const permanent = err instanceof UnrecoverableError || (err instanceof Error && err.name === 'UnrecoverableError');
  const answer = context.lastAnswer;
  if (!permanent || !answer) return undefined;
  const code = REJECTION_CODES.find((c) => (err as Error).message.startsWith(c));
  if (!code) return undefined;
  const clientError = answer.status >= 400 && answer.status < 500;
  // A mapping's `means: invalid` rule may apply to any status; it still is a refused value.
  if (!clientError && code === 'GW_DELIVERY_REJECTED') return undefined;
  return { kind: 'rejected', status: clientError ? answer.status : 400, detail: targetDetail(answer.bodyText) };
}
