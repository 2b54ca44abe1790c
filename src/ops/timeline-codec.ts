import type { ResourceType } from '../scim/types.js';
import { REVISION_ASSIGNED_BY_STORE, REVISION_SLOT } from '../store/types.js';
import type { CallRecord } from './failure.js';
import type { DeliveryAttemptEvent, ProxyWriteEvent, ScimChangeEvent, TimelineEvent } from './timeline.js';

/**
 * How a timeline event is stored (one element of the resource's Redis list, see timeline.ts):
 * a positional JSON array instead of the event's JSON object, because Redis memory per user is a
 * product target and the object spelt out every key name, the ISO time, the request id and the
 * job id of every event. A new user's SCIM create and first delivery take 61 + 113 bytes this
 * way instead of 396 + 466 (MEMORY USAGE of the whole list: 392 B instead of 1,096 B).
 *
 * The first element is the format tag: 1 a SCIM change, 2 a delivery attempt, 3 a proxied write
 * (any other tag, or an element of the wrong shape, is skipped by the reader). Then the fields
 * at fixed positions, optional ones last; `null`, or the end of the array, means "absent":
 *
 *   1  [1, at, op, revision, attributes, requestId?]
 *   2  [2, at, attempt, revision, outcome, durationMs, calls, requestId?, result?, code?, jobId?]
 *      call: [action, method, path, status|null, durationMs, outcome, code?]
 *   3  [3, at, op, attributes, rewrites, outcome, durationMs, requestId?, status?, upstreamStatus?, code?, jobId?, attempt?]
 *
 * e.g. `[1,1764637378531,0,1,275549009965,["TtUSxU9oTfGxLK2sMSPBJQ"]]` and
 * `[2,1764637378535,1,1,0,76,[[0,0,"/api/v1/accounts?…",200,16,0],[1,1,16,201,12,0]],["TtUSxU9oTfGxLK2sMSPBJQ"],4]`.
 *
 * - `at`: epoch milliseconds when the ISO time is exactly `new Date(ms).toISOString()` (what
 *   every writer produces), else the string as given.
 * - Names from a fixed set (op, outcomes, result, call action and method, rewrites) are their
 *   index in the tables below; any other value is kept as its string. Tables may only grow at
 *   the end: stored indices must keep their meaning.
 * - `attributes`: a bit mask over ATTRIBUTES when every name is in the table and they come in
 *   the table's order (changedAttributes() sorts them, as the table is), else an array of
 *   indices and strings, in the original order.
 * - `requestId`: a lower-case UUID (the bridge's own request ids) as `["<16 bytes, base64url>"]`,
 *   any other id as its string.
 * - A delivery `jobId` is absent when it is the resource's usual `<Type>-<id>-r<revision>`,
 *   `["suffix"]` when it is that plus `-suffix` (jobs with a trigger), else the string.
 * - A call's `path`, after the first call: `k` when it is the previous call's first k characters
 *   (`/accounts` after `/accounts?…`; the same path again, as member calls of a group do),
 *   `[k, "rest"]` when it shares at least MIN_SHARED_PREFIX characters with it, else the string.
 *
 * No compression library: appends run on the API's and the worker's hot paths, and this costs
 * less CPU than JSON.stringify of the event object did (about 0.5× for a SCIM change, 0.85× for
 * a delivery attempt). Decoding builds each event with its keys in the order the writers put them
 * (a replayed buffered write's, written in another order, comes back in the proxy plugin's order),
 * so an event reads back as it was appended; test/ops/timeline-codec.test.ts checks every field.
 * Elements written before this format (JSON objects, starting with `{`) are still read as such.
 */

const OPS = ['create', 'replace', 'patch', 'delete', 'membership'] as const;
const DELIVERY_OUTCOMES = ['delivered', 'retry', 'failed', 'rateLimited'] as const;
const RESULTS = ['unsupported', 'purged', 'stale', 'deleted', 'converged', 'waiting', 'continued'] as const;
const ACTIONS = ['lookup', 'create', 'update', 'deactivate', 'reactivate', 'delete', 'addMember', 'removeMember', 'addMembers', 'removeMembers'] as const;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const CALL_OUTCOMES = ['ok', 'retry', 'rateLimited', 'reject'] as const;
const PROXY_OUTCOMES = ['forwarded', 'failed', 'refused', 'buffered', 'replayed', 'replay-retry', 'replay-failed'] as const;
/** A frozen copy of config's PROXY_REWRITES, not an import: stored indices must not move if that list is reordered. */
const REWRITES = [
  'lowercaseOps',
  'booleanStrings',
  'memberRemoveValueArray',
  'expandDottedPaths',
  'managerAsObject',
  'dropNulls',
  'emptyValueAsRemove',
  'membersFilterValue',
] as const;

const E = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
/**
 * Attribute names as changedAttributes() (`<urn>.<name>`) and a proxied write (`<urn>:<name>`)
 * report them, in JavaScript's default sort order. At most 53 (a mask is a safe integer).
 */
const ATTRIBUTES = [
  'active',
  'addresses',
  'displayName',
  'emails',
  'entitlements',
  'externalId',
  'groups',
  'ims',
  'locale',
  'members',
  'name',
  'name.familyName',
  'name.formatted',
  'name.givenName',
  'name.honorificPrefix',
  'name.honorificSuffix',
  'name.middleName',
  'nickName',
  'password',
  'phoneNumbers',
  'photos',
  'preferredLanguage',
  'profileUrl',
  'roles',
  'timezone',
  'title',
  `${E}.costCenter`,
  `${E}.department`,
  `${E}.division`,
  `${E}.employeeNumber`,
  `${E}.manager`,
  `${E}.organization`,
  `${E}:costCenter`,
  `${E}:department`,
  `${E}:division`,
  `${E}:employeeNumber`,
  `${E}:manager`,
  `${E}:organization`,
  'userName',
  'userType',
  'x509Certificates',
] as const;

/** Exposed for tests only: the tables' sizes and order are part of the stored format. */
export const CODEC_TABLES = { OPS, DELIVERY_OUTCOMES, RESULTS, ACTIONS, METHODS, CALL_OUTCOMES, PROXY_OUTCOMES, REWRITES, ATTRIBUTES };

const TAG_SCIM = 1;
const TAG_DELIVERY = 2;
const TAG_PROXY = 3;

type Table = readonly string[];

/** Each name of a table → the JSON text of its index, so encoding a known name costs one lookup. */
function codesOf(table: Table): Map<string, string> {
  return new Map(table.map((value, i) => [value, String(i)]));
}
const OP_CODE = codesOf(OPS);
const DELIVERY_OUTCOME_CODE = codesOf(DELIVERY_OUTCOMES);
const RESULT_CODE = codesOf(RESULTS);
const ACTION_CODE = codesOf(ACTIONS);
const METHOD_CODE = codesOf(METHODS);
const CALL_OUTCOME_CODE = codesOf(CALL_OUTCOMES);
const PROXY_OUTCOME_CODE = codesOf(PROXY_OUTCOMES);
const REWRITE_CODE = codesOf(REWRITES);
const ATTRIBUTE_CODE = codesOf(ATTRIBUTES);
const ATTRIBUTE_INDEX = new Map<string, number>(ATTRIBUTES.map((value, i) => [value, i]));
const BITS = ATTRIBUTES.map((_, i) => 2 ** i);

/*
 * Encoding writes the JSON text directly: JSON.stringify of an array of mixed values costs
 * about as much as of the whole event object, and appends run on the API's and the worker's
 * hot paths. Only strings go through JSON.stringify (for escaping).
 */

/** JSON text of a field's value, as JSON.stringify would write it inside an array. */
function json(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  return JSON.stringify(value) ?? 'null';
}

function coded(codes: Map<string, string>, value: string): string {
  return codes.get(value) ?? json(value);
}

/** `,`-joined optional fields, up to the last present one (`null` for absent ones before it). */
function optional(fields: Array<string | undefined>): string {
  let end = fields.length;
  while (end > 0 && fields[end - 1] === undefined) end--;
  let out = '';
  for (let i = 0; i < end; i++) out += `,${fields[i] ?? 'null'}`;
  return out;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The digits `s[from…from+n)` as a number; -1 if one is not a digit. */
function digits(s: string, from: number, n: number): number {
  let value = 0;
  for (let i = from; i < from + n; i++) {
    const digit = s.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Epoch ms of a time in exactly toISOString()'s form (`2025-06-01T12:34:56.789Z`, year 100 and
 * later), so that `new Date(ms).toISOString()` gives the same string back; else the string.
 * Parsed by hand: a tenth of the cost of Date.parse plus toISOString to check the form.
 */
function encodeAt(at: string): string {
  if (
    typeof at !== 'string' ||
    at.length !== 24 ||
    at.charCodeAt(4) !== 45 ||
    at.charCodeAt(7) !== 45 ||
    at.charCodeAt(10) !== 84 ||
    at.charCodeAt(13) !== 58 ||
    at.charCodeAt(16) !== 58 ||
    at.charCodeAt(19) !== 46 ||
    at.charCodeAt(23) !== 90
  ) {
    return json(at);
  }
  const year = digits(at, 0, 4);
  const month = digits(at, 5, 2);
  const day = digits(at, 8, 2);
  const hour = digits(at, 11, 2);
  const minute = digits(at, 14, 2);
  const second = digits(at, 17, 2);
  const ms = digits(at, 20, 3);
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) return json(at);
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return json(at);
  return msText(Date.UTC(year, month - 1, day, hour, minute, second, ms));
}

/** String(ms), in a third of the time for today's times (two small integers convert faster than one large one). */
function msText(ms: number): string {
  if (ms < 1e6) return String(ms);
  const high = Math.floor(ms / 1e6);
  const low = ms - high * 1e6;
  return `${high}${low < 1e5 ? String(low + 1e6).slice(1) : low}`;
}

function encodeNames(names: string[]): string {
  let mask = 0;
  let previous = -1;
  for (const attribute of names) {
    const i = ATTRIBUTE_INDEX.get(attribute);
    if (i === undefined || i <= previous) return `[${names.map((n) => coded(ATTRIBUTE_CODE, n)).join(',')}]`;
    mask += BITS[i]!;
    previous = i;
  }
  return String(mask);
}

/** Shortest prefix worth referring to rather than repeating (`[k,"…"]` costs 4–5 bytes). */
const MIN_SHARED_PREFIX = 8;

/** A call's path given the previous call's: see the format above. */
function encodePath(path: string, previous: string | undefined): string {
  if (previous === undefined) return json(path);
  const end = Math.min(path.length, previous.length);
  let shared = 0;
  while (shared < end && path.charCodeAt(shared) === previous.charCodeAt(shared)) shared++;
  if (shared === path.length) return String(shared);
  return shared >= MIN_SHARED_PREFIX ? `[${shared},${json(path.slice(shared))}]` : json(path);
}

/** Hex digit values of lower-case hex characters, -1 for every other character code below 128. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 48; c <= 57; c++) HEX[c] = c - 48;
for (let c = 97; c <= 102; c++) HEX[c] = c - 87;
const UUID_BYTES = Buffer.alloc(16);

/**
 * A request id: a lower-case UUID (the bridge's own ids, `randomUUID()`) as
 * `[<its 16 bytes in base64url>]`, 25 bytes instead of 38; anything else as it is.
 */
function encodeRequestId(requestId: string | undefined): string | undefined {
  if (requestId === undefined) return undefined;
  if (typeof requestId !== 'string' || requestId.length !== 36) return json(requestId);
  if (requestId.charCodeAt(8) !== 45 || requestId.charCodeAt(13) !== 45 || requestId.charCodeAt(18) !== 45 || requestId.charCodeAt(23) !== 45) return json(requestId);
  let byte = 0;
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    const high = HEX[requestId.charCodeAt(i)] ?? -1;
    const low = HEX[requestId.charCodeAt(i + 1)] ?? -1;
    if (high < 0 || low < 0) return json(requestId);
    UUID_BYTES[byte++] = (high << 4) | low;
  }
  return `["${UUID_BYTES.toString('base64url')}"]`;
}

/**
 * A delivery job id against the usual `<Type>-<id>-r<revision>`: undefined when it is that,
 * `["suffix"]` when it is that plus `-suffix`, else the string. Compared piece by piece, without
 * building the usual id.
 */
function encodeJobId(jobId: string, type: string, id: string, revision: number): string | undefined {
  const head = type.length + id.length + 3;
  if (
    typeof jobId === 'string' &&
    jobId.length > head &&
    jobId.charCodeAt(type.length) === 45 &&
    jobId.charCodeAt(head - 2) === 45 &&
    jobId.charCodeAt(head - 1) === 114 &&
    jobId.slice(0, type.length) === type &&
    jobId.slice(type.length + 1, head - 2) === id
  ) {
    const rev = String(revision);
    const end = head + rev.length;
    if (jobId.slice(head, end) === rev) {
      if (jobId.length === end) return undefined;
      if (jobId.charCodeAt(end) === 45) return `[${json(jobId.slice(end + 1))}]`;
    }
  }
  return json(jobId);
}

function encodeCalls(calls: CallRecord[]): string {
  let out = '[';
  let previousPath: string | undefined;
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!;
    out += `${i === 0 ? '' : ','}[${coded(ACTION_CODE, c.action)},${coded(METHOD_CODE, c.method)},${encodePath(c.path, previousPath)},${json(c.status)},${json(c.durationMs)},${coded(CALL_OUTCOME_CODE, c.outcome)}${c.code === undefined ? '' : `,${json(c.code)}`}]`;
    previousPath = c.path;
  }
  return `${out}]`;
}

/** The stored form of one event of the resource `type`/`id` (the id makes job ids derivable). */
export function encodeEvent(type: ResourceType, id: string, event: TimelineEvent): string {
  switch (event.kind) {
    case 'scim':
      return `[${TAG_SCIM},${encodeAt(event.at)},${coded(OP_CODE, event.op)},${event.revision === REVISION_ASSIGNED_BY_STORE ? REVISION_SLOT : json(event.revision)},${encodeNames(event.attributes)}${optional([encodeRequestId(event.requestId)])}]`;
    case 'delivery':
      return (
        `[${TAG_DELIVERY},${encodeAt(event.at)},${json(event.attempt)},${json(event.revision)},${coded(DELIVERY_OUTCOME_CODE, event.outcome)},${json(event.durationMs)},${encodeCalls(event.calls)}` +
        `${optional([
          encodeRequestId(event.requestId),
          event.result === undefined ? undefined : coded(RESULT_CODE, event.result),
          event.code === undefined ? undefined : json(event.code),
          encodeJobId(event.jobId, type, id, event.revision),
        ])}]`
      );
    case 'proxy':
      return (
        `[${TAG_PROXY},${encodeAt(event.at)},${coded(OP_CODE, event.op)},${encodeNames(event.attributes)},[${event.rewrites.map((r) => coded(REWRITE_CODE, r)).join(',')}],` +
        `${coded(PROXY_OUTCOME_CODE, event.outcome)},${json(event.durationMs)}` +
        `${optional([
          encodeRequestId(event.requestId),
          event.status === undefined ? undefined : json(event.status),
          event.upstreamStatus === undefined ? undefined : json(event.upstreamStatus),
          event.code === undefined ? undefined : json(event.code),
          event.jobId === undefined ? undefined : json(event.jobId),
          event.attempt === undefined ? undefined : json(event.attempt),
        ])}]`
      );
    default:
      // A kind this codec does not know (no writer makes one): kept as plain JSON.
      return JSON.stringify(event);
  }
}

/* Decoding: JSON.parse, then the fields from their positions. Reads are not on a hot path. */

/** Thrown inside decode for an element of the wrong shape; the reader skips the element. */
class Malformed extends Error {}

function fail(): never {
  throw new Malformed();
}

type Stored = unknown[];

function name(table: Table, stored: unknown): string {
  if (typeof stored === 'string') return stored;
  const value = typeof stored === 'number' ? table[stored] : undefined;
  return value ?? fail();
}

function list(stored: unknown): unknown[] {
  return Array.isArray(stored) ? stored : fail();
}

function decodeAt(stored: unknown): { at: string; ms: number } {
  if (typeof stored === 'number') {
    const date = new Date(stored);
    if (Number.isNaN(date.getTime())) fail();
    return { at: date.toISOString(), ms: stored };
  }
  if (typeof stored !== 'string') fail();
  return { at: stored, ms: Date.parse(stored) };
}

function decodeNames(stored: unknown): string[] {
  if (Array.isArray(stored)) return stored.map((n) => name(ATTRIBUTES, n));
  if (typeof stored !== 'number' || !Number.isSafeInteger(stored) || stored < 0) fail();
  const names: string[] = [];
  for (let rest = stored, i = 0; rest > 0; rest = Math.floor(rest / 2), i++) {
    if (rest % 2 === 1) names.push(ATTRIBUTES[i] ?? fail());
  }
  return names;
}

function decodePath(stored: unknown, previous: string | undefined): string {
  if (typeof stored === 'string') return stored;
  const [shared, suffix] = typeof stored === 'number' ? [stored, ''] : Array.isArray(stored) ? stored : [];
  if (previous === undefined || typeof shared !== 'number' || !Number.isInteger(shared) || shared < 0 || shared > previous.length || typeof suffix !== 'string') fail();
  return previous.slice(0, shared) + suffix;
}

function decodeRequestId(stored: unknown): { requestId?: string } {
  if (stored === null || stored === undefined) return {};
  if (typeof stored === 'string') return { requestId: stored };
  const packed = Array.isArray(stored) ? stored[0] : undefined;
  if (typeof packed !== 'string' || packed.length !== 22) fail();
  const hex = Buffer.from(packed, 'base64url').toString('hex');
  if (hex.length !== 32) fail();
  return { requestId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
}

function decodeCalls(stored: unknown): CallRecord[] {
  let previousPath: string | undefined;
  return list(stored).map((s) => {
    const [action, method, path, status, durationMs, outcome, callCode] = list(s);
    const resolved = decodePath(path, previousPath);
    previousPath = resolved;
    return {
      action: name(ACTIONS, action),
      method: name(METHODS, method),
      path: resolved,
      ...(present(status) ? { status: status as number } : {}),
      durationMs: durationMs as number,
      outcome: name(CALL_OUTCOMES, outcome) as CallRecord['outcome'],
      ...(present(callCode) ? { code: callCode as string } : {}),
    };
  });
}

function present(value: unknown): boolean {
  return value !== null && value !== undefined;
}

function decodeScim(s: Stored): { event: ScimChangeEvent; ms: number } {
  const [, at, op, revision, attributes, requestId] = s;
  const time = decodeAt(at);
  const event: ScimChangeEvent = {
    kind: 'scim',
    at: time.at,
    revision: revision as number,
    op: name(OPS, op) as ScimChangeEvent['op'],
    ...decodeRequestId(requestId),
    attributes: decodeNames(attributes),
  };
  return { event, ms: time.ms };
}

function decodeDelivery(type: ResourceType, id: string, s: Stored): { event: DeliveryAttemptEvent; ms: number } {
  const [, at, attempt, revision, outcome, durationMs, calls, requestId, result, failureCode, jobId] = s;
  const time = decodeAt(at);
  const usual = `${type}-${id}-r${String(revision)}`;
  const event: DeliveryAttemptEvent = {
    kind: 'delivery',
    at: time.at,
    jobId: !present(jobId) ? usual : Array.isArray(jobId) && typeof jobId[0] === 'string' ? `${usual}-${jobId[0]}` : typeof jobId === 'string' ? jobId : fail(),
    attempt: attempt as number,
    revision: revision as number,
    ...decodeRequestId(requestId),
    outcome: name(DELIVERY_OUTCOMES, outcome) as DeliveryAttemptEvent['outcome'],
    ...(present(result) ? { result: name(RESULTS, result) as NonNullable<DeliveryAttemptEvent['result']> } : {}),
    durationMs: durationMs as number,
    ...(present(failureCode) ? { code: failureCode as string } : {}),
    calls: decodeCalls(calls),
  };
  return { event, ms: time.ms };
}

function decodeProxy(s: Stored): { event: ProxyWriteEvent; ms: number } {
  const [, at, op, attributes, rewrites, outcome, durationMs, requestId, status, upstreamStatus, failureCode, jobId, attempt] = s;
  const time = decodeAt(at);
  const event: ProxyWriteEvent = {
    kind: 'proxy',
    at: time.at,
    op: name(OPS, op) as ProxyWriteEvent['op'],
    ...decodeRequestId(requestId),
    attributes: decodeNames(attributes),
    rewrites: list(rewrites).map((r) => name(REWRITES, r)) as ProxyWriteEvent['rewrites'],
    outcome: name(PROXY_OUTCOMES, outcome) as ProxyWriteEvent['outcome'],
    ...(present(status) ? { status: status as number } : {}),
    ...(present(upstreamStatus) ? { upstreamStatus: upstreamStatus as number } : {}),
    durationMs: durationMs as number,
    ...(present(failureCode) ? { code: failureCode as string } : {}),
    ...(present(jobId) ? { jobId: jobId as string } : {}),
    ...(present(attempt) ? { attempt: attempt as number } : {}),
  };
  return { event, ms: time.ms };
}

/**
 * One stored element of the resource `type`/`id`, with its time in epoch ms (NaN if it has
 * none that parses); undefined for an element that is neither format or is malformed.
 */
export function decodeEvent(type: ResourceType, id: string, stored: string): { event: TimelineEvent; ms: number } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return legacyEvent(value);
  try {
    if (value[0] === TAG_SCIM) return decodeScim(value);
    if (value[0] === TAG_DELIVERY) return decodeDelivery(type, id, value);
    if (value[0] === TAG_PROXY) return decodeProxy(value);
    return undefined;
  } catch {
    // Malformed, or of a shape no version wrote: one lost line of history, never a failed read.
    return undefined;
  }
}

/** An event stored as its JSON object (versions before the positional format). */
export function legacyEvent(value: unknown): { event: TimelineEvent; ms: number } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const event = value as { kind?: unknown; at?: unknown };
  if (typeof event.kind !== 'string' || typeof event.at !== 'string') return undefined;
  return { event: value as TimelineEvent, ms: Date.parse(event.at) };
}
