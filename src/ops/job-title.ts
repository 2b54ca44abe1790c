import type { DeliveryJobData } from '../delivery/types.js';
import type { BufferedWrite } from '../proxy/write-buffer.js';

/** "User ada@example.com · r3": what a delivery job is about, on the dashboard and in the CLI. */
export function deliveryJobTitle(data: Partial<DeliveryJobData> | undefined): string {
  if (!data?.type) return 'delivery';
  return `${data.type} ${data.name ?? data.id ?? '?'} · r${data.revision ?? '?'}`;
}

/** "PATCH User 2819c… (buffered)": a buffered write of a `mode: proxy` connection. */
export function bufferJobTitle(data: Partial<BufferedWrite> | undefined): string {
  if (!data?.type) return 'buffered write';
  return `${data.method ?? '?'} ${data.type} ${data.id ?? '?'} (buffered)`;
}
