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
  | { kind: 'removeMember'; member: MemberContext };

export interface MemberContext {
  /** SCIM id of the member in the bridge. */
  id: string;
  /** The member's id in the target (from its delivery state). */
  targetId: string;
  type: ResourceType;
  ref?: MemberRef;
}

export interface MappingInput {
  type: ResourceType;
  /** The desired SCIM resource (for delete: the last known document). */
  resource: ScimResource;
  /** The target's id of this resource; absent before create/lookup. */
  targetId?: string;
  action: TargetAction;
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
  /** Reads the target id from a create (or lookup) response; undefined if absent. */
  readTargetId(response: { status: number; headers: Record<string, string>; body: unknown }): string | undefined;
}

export interface PlannedCall {
  request: HttpRequestSpec;
  /** Present for create and lookup: how to find the target id in the answer. */
  reader?: ResponseReader;
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
   * The calls for one action, in order. Rejects with MappingEvaluationError (code GW_MAP_EVAL)
   * when an expression fails at run time.
   */
  plan(input: MappingInput): Promise<PlannedCall[]>;
  /** The mapped target fields alone (used for change detection and dry-run output). */
  fields(type: ResourceType, resource: ScimResource): Promise<Record<string, unknown>>;
  /** The mapping's input rules (`validate:`) for a resource about to be accepted. */
  check(type: ResourceType, resource: ScimResource): Promise<RuleViolation[]>;
}
