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
  /**
   * Why the job exists when it is not a store write, e.g. `linked-<memberId>` when a member got
   * its target id and the group's pending memberships can now be delivered. Makes the job id
   * unique so BullMQ does not drop it as a copy of the already finished job of that revision.
   */
  trigger?: string;
  /** userName or displayName when the job was queued: what the dashboard shows (never other values). */
  name?: string;
  /** Request id of the SCIM request that caused the job, to follow a change from Entra to the target. */
  requestId?: string;
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
