import { Worker } from 'node:worker_threads';
import type { BridgeConfig } from '../config/schema.js';
import type { AttemptOutcome, CallRecord } from '../ops/failure.js';
import type { DeliveryMetricsSink } from '../ops/delivery-observer.js';

/**
 * The delivery workers of a `serve` process on a worker thread of their own, so that one
 * process that runs both the API and the workers uses two cores instead of one (`deliveryThread`
 * in the config). The thread runs the same bridge as a `worker` process (`thread-entry.ts`): its
 * own Redis connections, outbox relays, BullMQ workers, reconcile schedules and file watchers.
 * Everything else is shared through Redis as between processes; what the main thread still needs
 * from the thread comes by message:
 *
 * - the delivery metrics, which the main thread's `/metrics` serves (batched per event-loop turn);
 * - whether each connection's worker runs, for `/readyz` (reported every second and at start);
 * - from the main thread: a nudge when the API accepted a write (the relay looks at once instead
 *   of at its next poll), SIGHUP (signals reach only the main thread), and the shutdown.
 *
 * If the thread stops on its own (an uncaught error), `failed` settles and the process should
 * exit: the API without its workers would accept changes nobody delivers here.
 * @see https://nodejs.org/api/worker_threads.html
 */

export interface DeliveryThread {
  /** The thread itself (its `threadId`, `resourceLimits`, or `terminate()` to stop it hard). */
  readonly worker: Worker;
  /** The API accepted a write on this connection. */
  nudge(connectionId: string): void;
  /** Whether the connection's worker runs in the thread; undefined before the first report. */
  running(connectionId: string): boolean | undefined;
  /** Resolves with the reason if the thread stops without being asked to. */
  failed: Promise<Error>;
  /** Stops the workers as `worker` does on SIGTERM (running jobs get `graceMs`), then the thread. */
  close(graceMs: number): Promise<void>;
}

export interface ThreadData {
  config: BridgeConfig;
  redisUrl?: string;
  /** Where the thread's bridge logs (the demo logs to stderr; tests not at all). */
  log: 'stdout' | 'stderr' | 'silent';
}

/** Delivery metrics observed in the thread, replayed on the main thread's registry. */
export type MetricEvent = ['call', string, CallRecord] | ['attempt', string, AttemptOutcome, number, string | undefined];

export type ToThread = { kind: 'nudge'; connectionIds: string[] } | { kind: 'sighup' } | { kind: 'close' };
export type FromThread =
  | { kind: 'ready' }
  | { kind: 'metrics'; events: MetricEvent[] }
  | { kind: 'workers'; running: Record<string, boolean> }
  | { kind: 'closed' };

/** Past the grace period, how long the thread may take to close its connections. */
const CLOSE_MARGIN_MS = 10_000;

/**
 * Loads the entry module in the thread. Run from TypeScript sources (tsx: `npm start`, the
 * tests' child processes), the thread registers tsx's loader first, as a thread does not
 * inherit the main thread's loader; the compiled image runs the JavaScript entry directly.
 */
const BOOT = `const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.loader) (await import(workerData.loader)).register();
  await import(workerData.entry);
})().catch((error) => { throw error; });`;

export async function startDeliveryThread(data: ThreadData, metrics: DeliveryMetricsSink): Promise<DeliveryThread> {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './thread-entry.ts' : './thread-entry.js', import.meta.url).href;
  const worker = new Worker(BOOT, {
    eval: true,
    workerData: { ...data, entry, ...(fromSource ? { loader: import.meta.resolve('tsx/esm/api') } : {}) },
  });
  const running = new Map<string, boolean>();
  let closing = false;
  let exited = false;
  let reportFailure!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      exited = true;
      if (!closing) reportFailure(new Error(`the delivery thread exited (code ${code})`));
      resolve();
    }),
  );
  worker.on('error', (error) => {
    if (!closing) reportFailure(error);
  });

  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromThread) => {
      switch (message.kind) {
        case 'ready':
          resolve();
          return;
        case 'metrics':
          for (const event of message.events) {
            if (event[0] === 'call') metrics.call(event[1], event[2]);
            else metrics.attempt(event[1], event[2], event[3], event[4]);
          }
          return;
        case 'workers':
          for (const [id, state] of Object.entries(message.running)) running.set(id, state);
          return;
        case 'closed':
          return;
      }
    });
    failed.then(reject, reject);
  });
  await ready;

  const onSighup = () => post({ kind: 'sighup' });
  process.on('SIGHUP', onSighup);
  let nudged = new Set<string>();
  function post(message: ToThread) {
    if (!exited) worker.postMessage(message);
  }

  return {
    worker,
    nudge(connectionId) {
      // One message per event-loop turn, for all the writes accepted in it.
      if (nudged.size === 0) {
        setImmediate(() => {
          const ids = [...nudged];
          nudged = new Set();
          post({ kind: 'nudge', connectionIds: ids });
        });
      }
      nudged.add(connectionId);
    },
    running: (connectionId) => (exited ? false : running.get(connectionId)),
    failed,
    async close(graceMs) {
      process.off('SIGHUP', onSighup);
      if (exited) return;
      closing = true;
      post({ kind: 'close' });
      const timer = setTimeout(() => void worker.terminate(), graceMs + CLOSE_MARGIN_MS);
      await exit;
      clearTimeout(timer);
    },
  };
}
