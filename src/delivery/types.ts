import type { ResourceType } from '../scim/types.js';

/**
 * A delivery job references a resource and the revision that caused it, never a diff: the worker
 * always converges the target on the latest stored state.
 */
export interface DeliveryJobData {
  connectionId: string;
  type: ResourceType;
  id: string;
  revision: number;
}

/** Deterministic job id: no `:` and never all digits (BullMQ rules). */
export function deliveryJobId(data: Pick<DeliveryJobData, 'type' | 'id' | 'revision'>): string {
  return `${data.type}-${data.id}-r${data.revision}`;
}

/** Deduplication id: at most one active and one waiting job per resource. */
export function deliveryDedupId(data: Pick<DeliveryJobData, 'type' | 'id'>): string {
  return `${data.type}-${data.id}`;
}

/** Queue name of a connection; one queue per connection so one slow target stalls nobody else. */
export function queueName(connectionId: string): string {
  return `delivery-${connectionId}`;
}
