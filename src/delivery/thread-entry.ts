import { parentPort, workerData } from 'node:worker_threads';
import { startBridge } from '../bridge.js';
import type { DeliveryMetricsSink } from '../ops/delivery-observer.js';
import type { FromThread, MetricEvent, ThreadData, ToThread } from './thread.js';

/**
 * The delivery thread of a `serve` process (thread.ts): the bridge's `worker` role, reporting
 * its metrics and worker states to the main thread and taking nudges, SIGHUP and the shutdown
 * from it.
 */

const port = parentPort;
if (!port) throw new Error('thread-entry.ts runs only as the delivery thread');
const data = workerData as ThreadData;
const send = (message: FromThread) => port.postMessage(message);

let events: MetricEvent[] = [];
function observed(event: MetricEvent) {
  if (events.length === 0) setImmediate(flushMetrics);
  events.push(event);
}
function flushMetrics() {
  if (events.length === 0) return;
  send({ kind: 'metrics', events });
  events = [];
}
const metrics: DeliveryMetricsSink = {
  call: (connectionId, record) => observed(['call', connectionId, record]),
  attempt: (connectionId, outcome, durationMs, code) => observed(['attempt', connectionId, outcome, durationMs, code]),
};

const logging = data.log === 'silent' ? { logger: false as const } : { logStream: data.log === 'stderr' ? process.stderr : process.stdout };
const bridge = await startBridge(data.config, { api: false, worker: true, redisUrl: data.redisUrl, asDeliveryThread: true, deliveryMetrics: metrics, ...logging });
const reportWorkers = () => send({ kind: 'workers', running: bridge.runtime.workerStates() });
reportWorkers();
const reporting = setInterval(reportWorkers, 1_000);

port.on('message', (message: ToThread) => {
  switch (message.kind) {
    case 'nudge':
      for (const id of message.connectionIds) bridge.runtime.nudge(id);
      return;
    case 'sighup':
      // The thread's config and mapping watchers listen for it (watch.ts), as in a process.
      process.emit('SIGHUP', 'SIGHUP');
      return;
    case 'close':
      clearInterval(reporting);
      void bridge.close().then(() => {
        flushMetrics();
        send({ kind: 'closed' });
        port.close();
      });
      return;
  }
});
send({ kind: 'ready' });
