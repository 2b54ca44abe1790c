import type { OutboxEntry, ResourceStore } from '../store/types.js';
import type { DeliveryJobData } from './types.js';
import type { DeliveryLogger } from './logger.js';

/**
 * Turns accepted writes into delivery jobs. Every write leaves an outbox entry in the same
 * atomic script as the document (`store/scripts.ts`), so the API answers after one Redis round
 * trip and a crash at any point loses nothing: the relay, running beside each delivery worker,
 * claims due entries for a lease, queues one job per resource (the newest revision: a job
 * converges on the latest state anyway), then acknowledges them. If it dies in between, the
 * lease ends and the entries come due again for any relay. Several relays on one outbox are
 * harmless: claims do not overlap, and a job queued twice is deduplicated per resource.
 *
 * The relay wakes when this process accepted a write (`nudge`), and otherwise looks every
 * `pollMs` for writes accepted by other processes.
 * @see https://microservices.io/patterns/data/transactional-outbox.html
 */

export interface OutboxRelayOptions {
  connectionId: string;
  store: ResourceStore;
  enqueue(jobs: DeliveryJobData[]): Promise<void>;
  logger: DeliveryLogger;
  /** How long a claim holds before another relay may take the entries. @default 15000 */
  leaseMs?: number;
  /** How often an idle relay looks for other processes' writes. @default 25 */
  pollMs?: number;
  /** Entries per claim. @default 500 */
  batch?: number;
}

export interface OutboxRelay {
  /** A write was accepted in this process: look now instead of at the next poll. */
  nudge(): void;
  /** One claim, enqueue and acknowledgement; returns how many entries it relayed. */
  relayOnce(): Promise<number>;
  /** Stops after the pass in progress (its claimed entries are queued and acknowledged). */
  stop(): Promise<void>;
}

const ERROR_PAUSE_MS = 1_000;

export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { connectionId, store, logger } = options;
  const leaseMs = options.leaseMs ?? 15_000;
  const pollMs = options.pollMs ?? 25;
  const batch = options.batch ?? 500;
  let stopped = false;
  let nudged = false;
  let wake: (() => void) | undefined;
  let failing = false;

  async function relayOnce(): Promise<number> {
    const claimed = await store.outboxClaim(batch, leaseMs);
    if (claimed.length === 0) return 0;
    await options.enqueue(jobsFor(connectionId, claimed));
    await store.outboxAck(claimed);
    return claimed.length;
  }

  /** Resolves on a nudge, on stop, or after `ms`. */
  function idle(ms: number): Promise<void> {
    if (nudged || stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  async function run(): Promise<void> {
    while (!stopped) {
      nudged = false;
      try {
        const relayed = await relayOnce();
        if (failing) logger.info({ connectionId }, 'outbox relay: working again');
        failing = false;
        if (relayed > 0) continue;
        await idle(pollMs);
      } catch (err) {
        // Redis down or the queue refusing: the entries stay (or come due again) for the next pass.
        if (!failing) logger.error({ connectionId, err }, 'outbox relay: could not queue accepted writes, retrying');
        failing = true;
        nudged = false;
        await idle(ERROR_PAUSE_MS);
      }
    }
  }

  const running = run();

  return {
    nudge() {
      nudged = true;
      wake?.();
    },
    relayOnce,
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}

/** One job per resource, for its newest revision, with that write's request id and the latest name seen. */
export function jobsFor(connectionId: string, entries: OutboxEntry[]): DeliveryJobData[] {
  const newest = new Map<string, DeliveryJobData>();
  for (const e of entries) {
    const key = `${e.type}:${e.id}`;
    const seen = newest.get(key);
    if (seen && seen.revision >= e.revision) {
      if (!seen.name && e.name) seen.name = e.name;
      continue;
    }
    const job: DeliveryJobData = { connectionId, type: e.type, id: e.id, revision: e.revision };
    const name = e.name ?? seen?.name;
    if (name) job.name = name;
    if (e.requestId) job.requestId = e.requestId;
    newest.set(key, job);
  }
  return [...newest.values()];
}
