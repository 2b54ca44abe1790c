import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one running delivery job learns on the way, without threading it through the processor:
 * the gated client notes the last answer, the confirmation reporter reads it when the job fails
 * for good (its status and body are the target's reason for the rejection).
 */
export interface JobContext {
  lastAnswer?: { status: number; bodyText: string };
}

const storage = new AsyncLocalStorage<JobContext>();

export function runInJobContext<T>(context: JobContext, run: () => Promise<T>): Promise<T> {
  return storage.run(context, run);
}

export function currentJobContext(): JobContext | undefined {
  return storage.getStore();
}
