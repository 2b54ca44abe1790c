import type { ResourceType, ScimResource } from '../scim/types.js';
import type { BodyNode, CompiledCall, CompiledField, CompiledMapping, CompiledSection } from './compile.js';
import { MappingEvaluationError } from './errors.js';
import { getValue } from './scim-path.js';
import { MissingValueError, renderPath, renderValue, type Placeholder, type PlaceholderResolver } from './template.js';
import type { HttpRequestSpec, MappingInput, MappingPlan, PlannedCall, RuleViolation } from './types.js';

/**
 * Runs a compiled mapping against one resource: the mapped fields, the input rules and the HTTP
 * calls for one action. Pure: no network, no Redis, so the worker and `scim-bridge dry-run` get
 * the same answer for the same input.
 */

/** Builds the MappingPlan (src/mapping/types.ts) of a compiled mapping. */
export function createMappingPlan(mapping: CompiledMapping): MappingPlan {
  const sectionOf = (type: ResourceType): CompiledSection | undefined => mapping.sections.get(type);
  return {
    name: mapping.name,
    file: mapping.file,
    supports: (type) => mapping.sections.has(type),
    has: (type, action) => sectionOf(type)?.calls.has(action) ?? false,
    async plan(input) {
      const section = sectionOf(input.type);
      const call = section?.calls.get(input.action.kind);
      if (!section || !call) return [];
      return [await planCall(section, call, input)];
    },
    async fields(type, resource) {
      const section = sectionOf(type);
      return section ? evaluateFields(section, resource) : {};
    },
    async check(type, resource) {
      const section = sectionOf(type);
      return section ? checkRules(section, resource) : [];
    },
  };
}

/** The body-shaped object of mapped fields, dotted names expanded into nested objects. */
async function evaluateFields(section: CompiledSection, resource: ScimResource): Promise<Record<string, unknown>> {
  const fields: Record<string, unknown> = {};
  for (const field of section.fields) {
    const value = await evaluateField(field, resource);
    if (value !== undefined) setNested(fields, field.segments, value);
  }
  return fields;
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

async function evaluateField(field: CompiledField, resource: ScimResource): Promise<unknown> {
  const value = await readSource(field, resource);
  if (value === undefined || value === null || value === '') return field.hasDefault ? field.default : value;
  if (!field.map) return value;
  const key = String(value);
  if (Object.hasOwn(field.map, key)) return field.map[key];
  return field.hasDefault ? field.default : value;
}

async function readSource(field: CompiledField, resource: ScimResource): Promise<unknown> {
  switch (field.source.kind) {
    case 'value':
      return structuredClone(field.source.value);
    case 'from':
      return getValue(resource, field.source.path);
    case 'expr':
      return evaluateExpression(field.source.expression.evaluate, resource, field.where);
  }
}

async function evaluateExpression(evaluate: (input: unknown) => Promise<unknown>, resource: ScimResource, where: string): Promise<unknown> {
  let result: unknown;
  try {
    result = await evaluate(resource);
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

async function planCall(section: CompiledSection, call: CompiledCall, input: MappingInput): Promise<PlannedCall> {
  const fields = call.needsFields ? await evaluateFields(section, input.resource) : undefined;
  const member = input.action.kind === 'addMember' || input.action.kind === 'removeMember' ? input.action.member : undefined;
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
  return call.reader ? { request, reader: call.reader } : { request };
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
