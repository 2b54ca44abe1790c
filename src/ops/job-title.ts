import type { DeliveryJobData } from '../delivery/types.js';

/** "User ada@example.com · r3": what a delivery job is about, on the dashboard and in the CLI. */
export function deliveryJobTitle(data: Partial<DeliveryJobData> | undefined): string {
  if (!data?.type) return 'delivery';
  return `${data.type} ${data.name ?? data.id ?? '?'} · r${data.revision ?? '?'}`;
}
