import type { Redis } from 'ioredis';
import type { ResourceType } from '../scim/types.js';
import type { AttemptOutcome, CallRecord, DeliveredOutcome } from './failure.js';

/**
 * A resource's history, for "why is this user missing?": the SCIM changes received (operation,
 * time, request id, names of the attributes changed, never values) and every delivery attempt
 * (its target calls with method, path template, status, duration, outcome and code).
 *
 * One Redis stream per resource, `<store prefix>:tl:<Type>:<id>`. Each append is `XADD MAXLEN n`
 * (trims the oldest entry: O(1)) plus `PEXPIRE` (the whole timeline goes once the resource has
 * been quiet for `maxAge`); reads also skip entries older than `maxAge`. Both commands are sent
 * without waiting in between, so the auto-pipelining client puts them, and whatever else the
 * caller sends at the same moment, into one round trip.
 * @see https://redis.io/docs/latest/commands/xadd/
 */

export type ScimOperation = 'create' | 'replace' | 'patch' | 'delete' | 'membership';

export interface ScimChangeEvent {
  kind: 'scim';
  at: string;
  op: ScimOperation;
  revision: number;
  requestId?: string;
  /** Attribute names the write changed (`members` for membership changes). */
  attributes: string[];
}

export interface DeliveryAttemptEvent {
  kind: 'delivery';
  at: string;
  jobId: string;
  /** 1 for the first attempt of the job. */
  attempt: number;
  /** Revision of the resource the job was queued for. */
  revision: number;
  requestId?: string;
  outcome: AttemptOutcome;
  /** What a delivered job did (converged, deleted, stale…). */
  result?: DeliveredOutcome;
  durationMs: number;
  code?: string;
  calls: CallRecord[];
}

export type TimelineEvent = ScimChangeEvent | DeliveryAttemptEvent;

export interface Timeline {
  append(type: ResourceType, id: string, event: TimelineEvent): Promise<void>;
  /** Events within the age limit, oldest first. */
  read(type: ResourceType, id: string): Promise<TimelineEvent[]>;
}

export interface TimelineOptions {
  /** The connection's store prefix. */
  prefix: string;
  maxEntries: number;
  maxAgeMs: number;
  now?: () => number;
}

export function timelineKey(prefix: string, type: ResourceType, id: string): string {
  return `${prefix}:tl:${type}:${id}`;
}

export function createTimeline(redis: Redis, options: TimelineOptions): Timeline {
  const now = options.now ?? Date.now;
  return {
    async append(type, id, event) {
      const key = timelineKey(options.prefix, type, id);
      await Promise.all([
        redis.xadd(key, 'MAXLEN', String(options.maxEntries), '*', 'e', JSON.stringify(event)),
        redis.pexpire(key, options.maxAgeMs),
      ]);
    },
    async read(type, id) {
      const since = now() - options.maxAgeMs;
      const entries = await redis.xrange(timelineKey(options.prefix, type, id), String(Math.max(0, since)), '+');
      return entries.flatMap(([, fields]) => {
        const json = fields[fields.indexOf('e') + 1];
        if (json === undefined) return [];
        try {
          return [JSON.parse(json) as TimelineEvent];
        } catch {
          return [];
        }
      });
    },
  };
}
