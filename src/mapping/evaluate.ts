import type { ResourceType, ScimResource } from '../scim/types.js';
import { MEMBER_LIMITS, type ActionKind, type BodyNode, type CompiledCall, type CompiledExpression, type CompiledField, type CompiledMapping, type CompiledSection } from './compile.js';
import { MappingEvaluationError } from './errors.js';
import { getValue } from './scim-path.js';
import { SCIM_ID_SPEC } from './target-id.js';
import { MissingValueError, renderPath, renderValue, type Placeholder, type PlaceholderResolver } from './template.js';
import {
  referenceKey,
  type EvalContext,
  type GroupInfo,
  type HttpRequestSpec,
  type MappingInput,
  type MappingPlan,
  type PlannedCall,
  type Reference,
  type RuleViolation,
  type RuleVerdict,
  type TargetAnswer,
} from './types.js';

/**
 * Runs a compiled mapping against one resource: the mapped fields, the input rules and the HTTP
 * calls for one action. Pure: no network, no Redis, so the worker and `scim-bridge dry-run` get
 * the same answer for the same input.
 */

/** Builds the MappingPlan (src/mapping/types.ts) of a compiled mapping. */
export function createMappingPlan(mapping: CompiledMapping): MappingPlan {
  const sectionOf = (type: ResourceType): CompiledSection | undefined => mapping.sections.get(type);
  const callsOf = (type: ResourceType, kind: ActionKind): CompiledCall[] => sectionOf(type)?.calls.get(kind) ?? [];
  // The mapped fields of one resource document under one context, evaluated once: the planner
  // hashes them and the calls render them, within the same job, from the same two objects.
  const fieldsCache = new WeakMap<ScimResource, WeakMap<EvalContext, Promise<Record<string, unknown>>>>();
  const noContext: EvalContext = {};
  const fieldsOf = (section: CompiledSection, resource: ScimResource, context: EvalContext | undefined): Promise<Record<string, unknown>> => {
    const key = context ?? noContext;
    let byContext = fieldsCache.get(resource);
    if (!byContext) fieldsCache.set(resource, (byContext = new WeakMap()));
    let fields = byContext.get(key);
    if (!fields) {
      fields = evaluateFields(section, resource, key);
      byContext.set(key, fields);
      // A failed evaluation is not kept: the next caller sees the error afresh.
      fields.catch(() => byContext.delete(key));
    }
    return fields;
  };
  const planOne = async (input: MappingInput, index: number): Promise<PlannedCall | undefined> => {
    const section = sectionOf(input.type);
    const call = callsOf(input.type, input.action.kind)[index];
    return section && call ? planCall(section, call, input, fieldsOf) : undefined;
  };
  return {
    name: mapping.name,
    file: mapping.file,
    supports: (type) => mapping.sections.has(type),
    listRule: (type) => mapping.sections.get(type)?.list,
    has: (type, action) => callsOf(type, action).length > 0,
    callCount: (type, action) => callsOf(type, action).length,
    planCall: planOne,
    async plan(input) {
      const planned: PlannedCall[] = [];
      for (let index = 0; index < callsOf(input.type, input.action.kind).length; index += 1) {
        const call = await planOne(input, index);
        if (call) planned.push(call);
      }
      return planned;
    },
    async fields(type, resource, context) {
      const section = sectionOf(type);
      return section ? fieldsOf(section, resource, context) : {};
    },
    async references(type, resource, context) {
      const section = sectionOf(type);
      return section ? findReferences(section, resource, context) : [];
    },
    usesGroups: (type) => sectionOf(type)?.usesGroups ?? false,
    usesPrevious: (type) => sectionOf(type)?.usesPrevious ?? false,
    memberLimits: () => ({ ...(sectionOf('Group')?.memberLimits ?? MEMBER_LIMITS) }),
    async check(type, resource) {
      const section = sectionOf(type);
      return section ? checkRules(section, resource) : [];
    },
  };
}

/** The body-shaped object of mapped fields, dotted names expanded into nested objects. */
async function evaluateFields(section: CompiledSection, resource: ScimResource, context: EvalContext = {}): Promise<Record<string, unknown>> {
  const fields: Record<string, unknown> = {};
  for (const field of section.fields) {
    const value = await evaluateField(field, resource, context);
    if (value !== undefined) setNested(fields, field.segments, value);
  }
  return fields;
}

/** The SCIM ids the `ref:` fields name in this resource. */
async function findReferences(section: CompiledSection, resource: ScimResource, context: EvalContext = {}): Promise<Reference[]> {
  const found: Reference[] = [];
  for (const field of section.fields) {
    if (!field.ref || !(await applies(field, resource, context))) continue;
    const id = await rawValue(field, resource, context);
    if (typeof id === 'string' && id !== '') found.push({ where: field.where, type: field.ref, id });
  }
  return found;
}

/** `{fields.person.name}` → the value at that path of the mapped fields (a leaf or a nested object). */
function fieldAt(fields: Record<string, unknown> | undefined, name: string): unknown {
  let current: unknown = fields;
  for (const segment of name.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** Source → default/map → reference → type → omitIfEmpty; undefined leaves the field out. */
async function evaluateField(field: CompiledField, resource: ScimResource, context: EvalContext): Promise<unknown> {
  if (!(await applies(field, resource, context))) return undefined;
  let value = await rawValue(field, resource, context);
  if (field.ref && typeof value === 'string' && value !== '') value = referencedTargetId(field, value, context);
  if (field.type && value !== undefined && value !== null) value = coerce(field, value);
  return field.omitIfEmpty && isEmpty(value) ? undefined : value;
}

/** A field's `when`: absent means always. */
async function applies(field: CompiledField, resource: ScimResource, context: EvalContext): Promise<boolean> {
  if (!field.when) return true;
  return truthy(await evaluateExpression(field.when, resource, bindingsOf(context), `${field.where}.when`));
}

async function rawValue(field: CompiledField, resource: ScimResource, context: EvalContext): Promise<unknown> {
  const value = await readSource(field, resource, context);
  if (value === undefined || value === null || value === '') return field.hasDefault ? field.default : value;
  if (!field.map) return value;
  const key = String(value);
  if (Object.hasOwn(field.map, key)) return field.map[key];
  return field.hasDefault ? field.default : value;
}

async function readSource(field: CompiledField, resource: ScimResource, context: EvalContext): Promise<unknown> {
  switch (field.source.kind) {
    case 'value':
      return structuredClone(field.source.value);
    case 'from':
      return getValue(resource, field.source.path);
    case 'expr':
      return evaluateExpression(field.source.expression, resource, bindingsOf(context), field.where);
    case 'groups':
      return fromGroups(field.source, context.groups ?? []);
  }
}

/** The first table row naming a group the user is in; undefined (then `default`) when none does. */
function fromGroups(source: Extract<CompiledField['source'], { kind: 'groups' }>, groups: GroupInfo[]): unknown {
  const names = new Set(
    groups.flatMap((group) => {
      const name = group[source.match];
      if (typeof name !== 'string') return [];
      return [source.match === 'displayName' ? name.toLowerCase() : name];
    }),
  );
  const row = source.table.find((candidate) => [...candidate.groups].some((name) => names.has(name)));
  return row ? structuredClone(row.value) : undefined;
}

function referencedTargetId(field: CompiledField, id: string, context: EvalContext): string | null {
  const targetId = context.targetIds?.get(referenceKey(field.ref ?? 'User', id));
  if (targetId === undefined) {
    throw new MappingEvaluationError(field.where, `${field.ref} ${id} was not resolved to a target id before mapping (ref: ${field.ref})`);
  }
  return targetId;
}

function coerce(field: CompiledField, value: unknown): unknown {
  switch (field.type) {
    case 'string':
      if (typeof value === 'object') return JSON.stringify(value);
      return String(value);
    case 'number': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      if (Number.isFinite(number)) return number;
      break;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const text = String(value).trim().toLowerCase();
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      break;
    }
    default:
      return value;
  }
  throw new MappingEvaluationError(field.where, `cannot convert ${JSON.stringify(value)} to ${field.type} (type: ${field.type})`);
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** JSONata's idea of a condition: false, null, undefined, 0, "" and empty lists are false. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}

function bindingsOf(context: EvalContext, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { groups: context.groups ?? [], ...extra };
}

async function evaluateExpression(
  expression: CompiledExpression,
  resource: ScimResource,
  bindings: Record<string, unknown>,
  where: string,
): Promise<unknown> {
  let result: unknown;
  try {
    result = await expression.evaluate(resource, bindings);
  } catch (err) {
    const { code, message } = err as { code?: string; message?: string };
    throw new MappingEvaluationError(where, `JSONata ${code ?? 'error'}: ${message ?? String(err)}`, { cause: err });
  }
  // JSONata returns arrays tagged as sequences and may return functions; keep plain JSON only.
  return result !== null && typeof result === 'object' ? JSON.parse(JSON.stringify(result)) : result;
}

function setNested(target: Record<string, unknown>, segments: string[], value: unknown): void {
  let current = target;
  segments.slice(0, -1).forEach((segment) => {
    const next = current[segment];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) current[segment] = {};
    current = current[segment] as Record<string, unknown>;
  });
  current[segments[segments.length - 1] ?? ''] = value;
}

/**
 * A rule passes only when its expression is exactly `true`: a missing attribute (undefined) or an
 * expression that cannot run on this input rejects the write with the rule's detail.
 */
async function checkRules(section: CompiledSection, resource: ScimResource): Promise<RuleViolation[]> {
  const violations: RuleViolation[] = [];
  for (const rule of section.rules) {
    let passed: boolean;
    try {
      passed = (await rule.expression.evaluate(resource)) === true;
    } catch {
      passed = false;
    }
    if (!passed) violations.push({ detail: rule.detail });
  }
  return violations;
}

type FieldsOf = (section: CompiledSection, resource: ScimResource, context: EvalContext | undefined) => Promise<Record<string, unknown>>;

async function planCall(section: CompiledSection, call: CompiledCall, input: MappingInput, fieldsOf: FieldsOf): Promise<PlannedCall | undefined> {
  const context = input.context ?? {};
  const captured = input.captured ?? {};
  const fields = call.needsFields ? await fieldsOf(section, input.resource, input.context) : undefined;
  if (call.when && !truthy(await evaluateExpression(call.when, input.resource, bindingsOf(context, { fields, captured }), `${call.where}.when`))) {
    return undefined;
  }
  const member = input.action.kind === 'addMember' || input.action.kind === 'removeMember' ? input.action.member : undefined;
  const members = input.action.kind === 'addMembers' || input.action.kind === 'removeMembers' ? input.action.members : undefined;
  const resolve: PlaceholderResolver = (placeholder: Placeholder) => {
    switch (placeholder.kind) {
      case 'targetId':
        return input.targetId;
      case 'fields':
        return fields;
      case 'field':
        return fieldAt(fields, placeholder.name);
      case 'memberTargetId':
        return member?.targetId;
      case 'memberId':
        return member?.id;
      case 'memberTargetIds':
        return members?.map((m) => m.targetId);
      case 'memberIds':
        return members?.map((m) => m.id);
      case 'captured':
        return captured[placeholder.name];
      case 'previous':
        // Before the first delivery there is nothing previous: null, not a missing value.
        return placeholder.name === undefined ? (context.previous ?? null) : (fieldAt(context.previous, placeholder.name) ?? null);
      case 'resource':
        return getValue(input.resource, placeholder.path);
    }
  };

  const request: HttpRequestSpec = {
    method: call.method,
    path: rendered(`${call.where}.path`, () => renderPath(call.path, resolve)),
    headers: {},
  };
  for (const [name, template] of call.headers) {
    const value = rendered(`${call.where}.headers.${name}`, () => renderValue(template, resolve));
    if (value === undefined || value === null) continue;
    request.headers[name] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  if (call.body) request.body = renderBody(call.body, resolve, `${call.where}.body`);
  const planned: PlannedCall = { request, where: call.where };
  // `targetId: scim:id`: the target keys the resource by the bridge's own id (webhooks, directories).
  if (call.reader) planned.reader = call.reader.spec === SCIM_ID_SPEC ? { spec: SCIM_ID_SPEC, readTargetId: () => input.resource.id } : call.reader;
  if (call.capture.length > 0) planned.capture = (answer) => Object.fromEntries(call.capture.map(([name, read]) => [name, read(answer)]));
  if (call.rules.length > 0) planned.respond = (answer) => respond(call, answer);
  return planned;
}

/** The first `on:` rule matching the answer. */
async function respond(call: CompiledCall, answer: TargetAnswer): Promise<RuleVerdict | undefined> {
  for (const rule of call.rules) {
    if (!rule.statuses.has(answer.status)) continue;
    if (rule.match) {
      let matched: unknown;
      try {
        matched = await rule.match.evaluate(answer.body ?? null, { status: answer.status, text: answer.bodyText });
      } catch {
        matched = false;
      }
      if (!truthy(matched)) continue;
    }
    if (rule.means !== 'invalid') return { means: rule.means };
    const detail = rule.detail?.(answer);
    return detail === undefined || detail === null ? { means: 'invalid' } : { means: 'invalid', detail: typeof detail === 'string' ? detail : JSON.stringify(detail) };
  }
  return undefined;
}

/** Runs a renderer, turning a missing placeholder value into GW_MAP_EVAL with its location. */
function rendered<T>(where: string, render: () => T): T {
  try {
    return render();
  } catch (err) {
    if (err instanceof MissingValueError) {
      const hint = err.part.placeholder.kind === 'targetId' ? ' (the resource has no target id yet)' : '';
      throw new MappingEvaluationError(where, `${err.message}${hint}`, { cause: err });
    }
    throw err;
  }
}

/** Renders a body tree; keys whose lone placeholder has no value are left out, as JSON would. */
function renderBody(node: BodyNode, resolve: PlaceholderResolver, where: string): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'template':
      return rendered(where, () => renderValue(node.template, resolve));
    case 'array':
      return node.items.map((item, index) => renderBody(item, resolve, `${where}.${index}`)).filter((item) => item !== undefined);
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [name, item] of node.entries) {
        const value = renderBody(item, resolve, `${where}.${name}`);
        if (value !== undefined) out[name] = value;
      }
      return out;
    }
  }
}
