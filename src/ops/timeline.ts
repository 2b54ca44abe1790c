import type { Redis } from 'ioredis';
import { createBatcher } from '../lib/batcher.js';
import { prefixHasHashTag } from '../lib/redis-keys.js';
import type { ResourceType } from '../scim/types.js';
import type { HistoryAppend } from '../store/types.js';
import type { AttemptOutcome, CallRecord, DeliveredOutcome } from './failure.js';
import { decodeEvent, encodeEvent, legacyEvent } from './timeline-codec.js';

/**
 * A resource's history, for "why is this user missing?": the SCIM changes received (operation,
 * time, request id, names of the attributes changed, never values) and every delivery attempt
 * (its target calls with method, path template, status, duration, outcome and code); for a
 * `mode: proxy` connection, each proxied write and what the upstream answered.
 *
 * One Redis list per resource, `<store prefix>:tlog:<Type>:<id>`, one event per element, stored
 * as a positional JSON array (timeline-codec.ts: table indices for names, epoch ms for times, no
 * derivable job id). Each append is one small script: `RPUSH`, `LTRIM -n -1` (keeps the newest
 * `maxEntries`) and `PEXPIRE` (the whole timeline goes once the resource has been quiet for
 * `maxAge`); reads also skip events older than `maxAge`, and elements they cannot read. Appends
 * are not waited for by writers, so the auto-pipelined client sends them with whatever else is
 * sent at the same moment, in one round trip.
 *
 * A new user's two events (the SCIM create, the delivery attempt) take 392 B of Redis
 * (`MEMORY USAGE` of the key, on Redis 7.0 with jemalloc; 410–450 B of `used_memory`, TTL included):
 * 200 B of key and list structures, a 192 B listpack holding 61 + 113 bytes of events. As JSON
 * objects, as written before, the same two events took 1,096 B; such elements are still read.
 * A list, not a stream: a small list is one compact listpack sized to its content, where a stream
 * preallocates a node of several KB (about 4.8 KB for the same two events). Timelines written by
 * earlier versions as streams (`<store prefix>:tl:<Type>:<id>`) are still read until they expire.
 * @see https://redis.io/docs/latest/develop/data-types/lists/
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

/**
 * What happened to one write of a `mode: proxy` connection (the bridge stores no resource there,
 * so the timeline is all it keeps): `forwarded` (the upstream answered, `upstreamStatus`),
 * `failed` (it could not be reached or answered in time), `refused` (not forwarded: circuit open,
 * too many in flight), `buffered` (accepted into the write buffer, `jobId`), and the buffer's
 * replays: `replayed`, `replay-retry` (transient failure, tried again later), `replay-failed`.
 */
export type ProxyOutcome = 'forwarded' | 'failed' | 'refused' | 'buffered' | 'replayed' | 'replay-retry' | 'replay-failed';

export interface ProxyWriteEvent {
  kind: 'proxy';
  /** When the request was received (for a replay: when the attempt started). */
  at: string;
  op: Exclude<ScimOperation, 'membership'>;
  requestId?: string;
  /** Attribute names the request wrote (`members` for membership changes), never values. */
  attributes: string[];
  /** The connection's rewrites that changed this request. */
  rewrites: string[];
  outcome: ProxyOutcome;
  /** What the SCIM client was answered (absent for replays, which nobody waits for). */
  status?: number;
  /** What the upstream answered, when it did. */
  upstreamStatus?: number;
  /** Time to answer (upstream included), or of the replay attempt. */
  durationMs: number;
  code?: string;
  /** The buffered write's job (outcomes `buffered` and `replay…`). */
  jobId?: string;
  /** 1 for the first replay attempt. */
  attempt?: number;
}

export type TimelineEvent = ScimChangeEvent | DeliveryAttemptEvent | ProxyWriteEvent;

export interface Timeline {
  append(type: ResourceType, id: string, event: TimelineEvent): Promise<void>;
  /**
   * The same append as data, for a store write script to make in its own atomic step (one round
   * trip for the write and its history): the list, the stored event, and the trim and age rules.
   */
  entry(type: ResourceType, id: string, event: TimelineEvent): HistoryAppend;
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
  return `${prefix}:tlog:${type}:${id}`;
}

/** Where versions before the list format kept a timeline (a stream); read until it expires. */
function legacyTimelineKey(prefix: string, type: ResourceType, id: string): string {
  return `${prefix}:tl:${type}:${id}`;
}

/** One event of a legacy stream entry (its JSON object in field `e`). */
function parseLegacyEntry(json: string | undefined): Array<{ event: TimelineEvent; ms: number }> {
  if (json === undefined) return [];
  try {
    const decoded = legacyEvent(JSON.parse(json));
    return decoded ? [decoded] : [];
  } catch {
    return [];
  }
}

/**
 * KEYS: the timelines; ARGV: one event per key, in the same order, then max entries and max age
 * (ms). A key may come more than once: its events are appended in order.
 */
const APPEND = `
local n = #KEYS
local max_entries, max_age = -tonumber(ARGV[n + 1]), ARGV[n + 2]
for i = 1, n do
  redis.call('RPUSH', KEYS[i], ARGV[i])
  redis.call('LTRIM', KEYS[i], max_entries, -1)
  redis.call('PEXPIRE', KEYS[i], max_age)
end
return n
`;

/** Most appends sent in one script call. */
const APPEND_BATCH = 64;

type TimelineCommands = { bridgeTimelineAppendMany(numberOfKeys: number, ...args: Array<string | number>): Promise<number> };

/**
 * Appends made in one turn of the event loop (the delivery jobs whose answers arrived together)
 * go out as one script call, each resolving when its batch is stored. On Redis Cluster one call
 * may only touch one hash slot: a connection's timelines share it through the hash tag of its
 * store prefix (the runtime's always has one); under a prefix without one, each append is its
 * own call.
 */
export function createTimeline(redis: Redis, options: TimelineOptions): Timeline {
  const now = options.now ?? Date.now;
  if (!('bridgeTimelineAppendMany' in redis)) redis.defineCommand('bridgeTimelineAppendMany', { lua: APPEND });
  const commands = redis as unknown as TimelineCommands;
  const appendMany = async (appends: Array<{ key: string; entry: string }>) => {
    await commands.bridgeTimelineAppendMany(appends.length, ...appends.map((a) => a.key), ...appends.map((a) => a.entry), options.maxEntries, options.maxAgeMs);
  };
  const appends = createBatcher(appendMany, { maxItems: APPEND_BATCH, enabled: prefixHasHashTag(options.prefix) });
  return {
    async append(type, id, event) {
      await appends.add([{ key: timelineKey(options.prefix, type, id), entry: encodeEvent(type, id, event) }]);
    },
    entry(type, id, event) {
      return { key: timelineKey(options.prefix, type, id), entry: encodeEvent(type, id, event), maxEntries: options.maxEntries, maxAgeMs: options.maxAgeMs };
    },
    async read(type, id) {
      const since = now() - options.maxAgeMs;
      const legacyKey = legacyTimelineKey(options.prefix, type, id);
      const [entries, legacy] = await Promise.all([
        redis.lrange(timelineKey(options.prefix, type, id), 0, -1),
        redis.exists(legacyKey).then((found) => (found ? redis.xrange(legacyKey, String(Math.max(0, since)), '+') : [])),
      ]);
      const older = legacy.flatMap(([, fields]) => parseLegacyEntry(fields[fields.indexOf('e') + 1]));
      const events = [...older];
      for (const entry of entries) {
        const decoded = decodeEvent(type, id, entry);
        if (decoded) events.push(decoded);
      }
      return events.filter(({ ms }) => ms >= since).map(({ event }) => event);
    },
  };
}
