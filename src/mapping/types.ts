import type { ListRule } from './schema.js';
import type { MemberRef, ResourceType, ScimResource } from '../scim/types.js';

/**
 * The contract between the mapping engine (pure) and its two callers: the delivery worker and
 * `scim-bridge dry-run`. A mapping file compiles to a MappingPlan once, at load; evaluating a
 * plan never touches the network.
 */

/** What the worker wants the target to do for one resource. */
export type TargetAction =
  | { kind: 'create' }
  | { kind: 'update' }
  | { kind: 'deactivate' }
  | { kind: 'reactivate' }
  | { kind: 'delete' }
  /** Find an existing target account for this resource (before a create, or after an unknown outcome). */
  | { kind: 'lookup' }
  | { kind: 'addMember'; member: MemberContext }
  | { kind: 'removeMember'; member: MemberContext }
  /** One call for a chunk of members (`addMembers:`, `{members.targetIds}`). */
  | { kind: 'addMembers'; members: MemberContext[] }
  | { kind: 'removeMembers'; members: MemberContext[] };

export interface MemberContext {
  /** SCIM id of the member in the bridge. */
  id: string;
  /** The member's id in the target (from its delivery state). */
  targetId: string;
  type: ResourceType;
  ref?: MemberRef;
}

/** A group the user is in, as `fromGroups` and JSONata's `$groups` see it. */
export interface GroupInfo {
  id: string;
  displayName?: string;
  externalId?: string;
}

/** A field whose value is the SCIM id of another resource (`ref:`), to be sent as its target id. */
export interface Reference {
  /** The field, e.g. `users.fields.manager_id`. */
  where: string;
  type: ResourceType;
  id: string;
}

/** `User:<id>` / `Group:<id>`: the key of a resolved reference in EvalContext.targetIds. */
export function referenceKey(type: ResourceType, id: string): string {
  return `${type}:${id}`;
}

/** What evaluation may read beyond the resource itself. Supplied by the planner. */
export interface EvalContext {
  /** The user's groups (only when the mapping reads them: `fromGroups`, `$groups`). */
  groups?: GroupInfo[];
  /** Resolved references: referenceKey → target id, or null when the resource no longer exists. */
  targetIds?: ReadonlyMap<string, string | null>;
  /** The fields as last delivered (for `{previous…}`); undefined before the first delivery. */
  previous?: Record<string, unknown>;
}

export interface MappingInput {
  type: ResourceType;
  /** The desired SCIM resource (for delete: the last known document). */
  resource: ScimResource;
  /** The target's id of this resource; absent before create/lookup. */
  targetId?: string;
  action: TargetAction;
  context?: EvalContext;
  /** Values captured from earlier calls of the same action (`capture:`). */
  captured?: Record<string, unknown>;
}

/** One HTTP call on the target, relative to the connection's target base URL. */
export interface HttpRequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path (with query string if any) appended to the target base URL; placeholders already encoded. */
  path: string;
  headers: Record<string, string>;
  /** JSON body, or undefined for none. */
  body?: unknown;
}

/** How to read the result of a call the plan asked for. */
export interface ResponseReader {
  /** The `targetId:` spec as written, for messages. */
  spec: string;
  /** Reads the target id from a create (or lookup) response; undefined if absent. */
  readTargetId(response: { status: number; headers: Record<string, string>; body: unknown }): string | undefined;
}

/** A target's answer as the mapping's readers and rules see it. */
export interface TargetAnswer {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON body, undefined when the body is not JSON. */
  body: unknown;
  bodyText: string;
}

/** What a matching `on:` rule says an answer means. */
export type RuleVerdict =
  | { means: 'ok' | 'exists' | 'gone' | 'retry' }
  | { means: 'invalid'; detail?: string };

export interface PlannedCall {
  request: HttpRequestSpec;
  /** Present for create and lookup: how to find the target id in the answer. */
  reader?: ResponseReader;
  /** Values to keep from the answer for later calls (`capture:`). */
  capture?(answer: TargetAnswer): Record<string, unknown>;
  /** The call's `on:` rules: the verdict of the first that matches, undefined when none does. */
  respond?(answer: TargetAnswer): Promise<RuleVerdict | undefined>;
  /** e.g. `users.create[1]`, for messages. */
  where?: string;
}

/** A validation rule of the mapping that failed: Entra should get 400 invalidValue at once. */
export interface RuleViolation {
  detail: string;
}

export interface MappingPlan {
  /** Connection-independent name of the mapping (file name without extension by default). */
  name: string;
  /** Source file, for messages. */
  file: string;
  /** Which resource types the mapping delivers; a type without a section is stored but not delivered. */
  supports(type: ResourceType): boolean;
  /** Whether the plan has a call for this action (e.g. no `deactivate` call: updates carry `active`). */
  has(type: ResourceType, action: TargetAction['kind']): boolean;
  /**
   * The calls for one action, in order, each rendered with `input.captured` (calls whose `when`
   * is false left out). Rejects with MappingEvaluationError (code GW_MAP_EVAL) when an
   * expression fails at run time.
   */
  plan(input: MappingInput): Promise<PlannedCall[]>;
  /** How many calls the action has (a list in the file, or one). */
  callCount(type: ResourceType, action: TargetAction['kind']): number;
  /** Call number `index` of the action, rendered with `input.captured`; undefined when its `when` is false. */
  planCall(input: MappingInput, index: number): Promise<PlannedCall | undefined>;
  /** The mapped target fields alone (used for change detection and dry-run output). */
  fields(type: ResourceType, resource: ScimResource, context?: EvalContext): Promise<Record<string, unknown>>;
  /** The `ref:` fields' SCIM ids in this resource, to resolve before `fields`. */
  references(type: ResourceType, resource: ScimResource, context?: EvalContext): Promise<Reference[]>;
  /** Whether the type's fields read the user's groups (`fromGroups`, `$groups`). */
  usesGroups(type: ResourceType): boolean;
  /** Whether the type's calls send the fields as last delivered (`{previous}`): then they are kept. */
  usesPrevious(type: ResourceType): boolean;
  /** The mapping's input rules (`validate:`) for a resource about to be accepted. */
  check(type: ResourceType, resource: ScimResource): Promise<RuleViolation[]>;
  /** Chunking of group member calls (`memberChunkSize`, `memberCallsPerJob`), defaults applied. */
  memberLimits(): { chunkSize: number; callsPerJob: number };
  /** How `scim-bridge reconcile` lists the target's resources of this type (`list:`), if it can. */
  listRule?(type: ResourceType): ListRule | undefined;
}
