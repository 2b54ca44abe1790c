import jsonata from 'jsonata';
import type { ResourceType } from '../scim/types.js';
import type { CallDefinition, FieldRule, GroupsSection, ListRule, MappingFile, ResponseRule, UsersSection, ValidateRule } from './schema.js';
import { scimPathProblem } from './scim-path.js';
import { createTargetIdReader, createValueReader, type Answer } from './target-id.js';
import { parseTemplate, placeholders, TemplateSyntaxError, type Placeholder, type Template } from './template.js';
import type { ResponseReader, TargetAction } from './types.js';
import { eventOf, webhookCalls, type WebhookBlock } from './webhook.js';

/**
 * Turns a schema-valid mapping file into ready-to-run parts: JSONata compiled once (compiling per
 * call is 15–25× slower), templates parsed, response readers built. Everything that can be known
 * without a resource is checked here, so a mapping that loads cannot fail on a typo later. Pure:
 * problems come back with their path in the file and an offset inside the offending string, and
 * load.ts turns them into `file:line:col`.
 */

export type ActionKind = TargetAction['kind'];

/** A problem found while compiling; `offset` is an index inside the string value at `path`. */
export interface CompileProblem {
  path: (string | number)[];
  message: string;
  offset?: number;
}

export interface CompiledExpression {
  source: string;
  /** Whether the expression reads `$groups` (then the planner loads the user's groups). */
  readsGroups: boolean;
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
}

export type FieldSource =
  | { kind: 'from'; path: string }
  | { kind: 'expr'; expression: CompiledExpression }
  | { kind: 'value'; value: unknown }
  /** Rows in priority order; `groups` folded as `match` compares them. */
  | { kind: 'groups'; match: 'displayName' | 'externalId' | 'id'; table: { groups: Set<string>; names: string[]; value: unknown }[] };

export interface CompiledField {
  name: string;
  /** `profile.first_name` → `['profile', 'first_name']`: where the value goes in the body. */
  segments: string[];
  source: FieldSource;
  map?: Record<string, unknown>;
  hasDefault: boolean;
  default?: unknown;
  ref?: ResourceType;
  when?: CompiledExpression;
  omitIfEmpty: boolean;
  type?: 'string' | 'number' | 'boolean';
  /** e.g. `users.fields.email`, for evaluation errors. */
  where: string;
}

/** One `on:` rule of a call. */
export interface CompiledResponseRule {
  statuses: Set<number>;
  match?: CompiledExpression;
  means: ResponseRule['means'];
  detail?: (answer: Answer) => unknown;
}

export interface CompiledRule {
  expression: CompiledExpression;
  detail: string;
}

export type BodyNode =
  | { kind: 'template'; template: Template }
  | { kind: 'literal'; value: unknown }
  | { kind: 'array'; items: BodyNode[] }
  | { kind: 'object'; entries: [string, BodyNode][] };

export interface CompiledCall {
  kind: ActionKind;
  method: CallDefinition['method'];
  path: Template;
  headers: [string, Template][];
  /** Undefined: the call sends no body. */
  body?: BodyNode;
  reader?: ResponseReader;
  when?: CompiledExpression;
  capture: [string, (answer: Answer) => unknown][];
  rules: CompiledResponseRule[];
  /** Whether rendering needs the mapped fields (so calls like delete skip evaluating them). */
  needsFields: boolean;
  /** Whether a template uses `{previous…}`. */
  usesPrevious: boolean;
  /** e.g. `users.create` for a lone call, `users.create[1]` in a list. */
  where: string;
}

export interface CompiledSection {
  key: 'users' | 'groups';
  fields: CompiledField[];
  rules: CompiledRule[];
  /** Each action's calls, in order. */
  calls: Map<ActionKind, CompiledCall[]>;
  /** Whether the fields read the user's groups. */
  usesGroups: boolean;
  /** How reconcile lists the target (`list:`), when the section has one. */
  list?: ListRule;
  /** Whether a call template uses `{previous…}`. */
  usesPrevious: boolean;
  /** Chunking of member calls (groups), defaults applied. */
  memberLimits: { chunkSize: number; callsPerJob: number };
}

/** Members per addMembers / removeMembers call, and member calls per job, unless the mapping says otherwise. */
export const MEMBER_LIMITS = { chunkSize: 100, callsPerJob: 100 } as const;

export interface CompiledMapping {
  name: string;
  file: string;
  sections: Map<ResourceType, CompiledSection>;
}

export interface CompileResult {
  mapping?: CompiledMapping;
  problems: CompileProblem[];
}

const CALL_KINDS: Record<'users' | 'groups', ActionKind[]> = {
  users: ['lookup', 'create', 'update', 'deactivate', 'reactivate', 'delete'],
  groups: ['lookup', 'create', 'update', 'delete', 'addMember', 'removeMember', 'addMembers', 'removeMembers'],
};

/** Calls whose default body is the mapped fields object. */
const FIELD_BODY_CALLS = new Set<ActionKind>(['create', 'update']);

export function compileMapping(file: MappingFile, options: { name: string; file: string }): CompileResult {
  const problems: CompileProblem[] = [];
  const sections = new Map<ResourceType, CompiledSection>();
  if (file.users) sections.set('User', compileSection('users', file.users, problems));
  if (file.groups) sections.set('Group', compileSection('groups', file.groups, problems));
  if (problems.length > 0) return { problems };
  return { mapping: { name: file.name ?? options.name, file: options.file, sections }, problems };
}

function compileSection(key: 'users' | 'groups', section: UsersSection | GroupsSection, problems: CompileProblem[]): CompiledSection {
  const fields = compileFields(key, section.fields ?? {}, problems);
  const rules = (section.validate ?? []).flatMap((rule, index) => compileRule(rule, [key, 'validate', index], problems) ?? []);
  const fieldNames = new Set(fields.map((field) => field.name));
  const calls = new Map<ActionKind, CompiledCall[]>();
  const definitions = section as Partial<Record<ActionKind, CallDefinition | CallDefinition[]>>;
  // `webhook:` stands for the section's calls (the schema refuses both at once).
  const webhook = (section as { webhook?: WebhookBlock }).webhook;
  const generated = webhook ? webhookCalls(key, webhook) : undefined;
  for (const kind of CALL_KINDS[key]) {
    const definition = generated ? generated.get(kind) : definitions[kind];
    if (!definition) continue;
    if (generated && !Array.isArray(definition)) {
      const member = kind === 'addMember' || kind === 'removeMember';
      const event = eventOf(kind);
      const override = { where: `${key}.webhook.${event}`, bodyPath: [key, 'webhook', member ? 'memberBody' : 'body'] };
      const known = { targetId: kind !== 'create', captured: new Set<string>() };
      calls.set(kind, [compileCall(key, kind, definition, [key, 'webhook'], fieldNames, known, problems, override)]);
      continue;
    }
    const list = Array.isArray(definition) ? definition : [definition];
    // Placeholders a call may use: {targetId} once an earlier call of create gave it, and
    // {captured.x} once an earlier call captured x.
    const known = { targetId: kind !== 'create' && kind !== 'lookup', captured: new Set<string>() };
    calls.set(
      kind,
      list.map((call, index) => {
        const path: (string | number)[] = Array.isArray(definition) ? [key, kind, index] : [key, kind];
        const compiled = compileCall(key, kind, call, path, fieldNames, known, problems);
        if (call.targetId !== undefined) known.targetId = true;
        for (const name of Object.keys(call.capture ?? {})) known.captured.add(name);
        return compiled;
      }),
    );
  }
  if (calls.get('create')?.some((call) => call.rules.some((rule) => rule.means === 'exists')) && !calls.has('lookup')) {
    problems.push({ path: [key, 'create'], message: '`means: exists` runs the lookup call to link the account: add a `lookup:` call to this section' });
  }
  const usesGroups = fields.some((field) => field.source.kind === 'groups' || (field.source.kind === 'expr' && field.source.expression.readsGroups) || field.when?.readsGroups === true);
  if (usesGroups && key === 'groups') problems.push({ path: [key, 'fields'], message: 'fromGroups and $groups read a user\'s groups; use them under users:' });
  const usesPrevious = [...calls.values()].flat().some((call) => call.usesPrevious);
  const limits = section as { memberChunkSize?: number; memberCallsPerJob?: number };
  const memberLimits = { chunkSize: limits.memberChunkSize ?? MEMBER_LIMITS.chunkSize, callsPerJob: limits.memberCallsPerJob ?? MEMBER_LIMITS.callsPerJob };
  return { key, fields, rules, calls, usesGroups, usesPrevious, memberLimits, ...(section.list ? { list: section.list } : {}) };
}

function compileFields(key: string, fields: Record<string, FieldRule>, problems: CompileProblem[]): CompiledField[] {
  const compiled: CompiledField[] = [];
  for (const [name, rule] of Object.entries(fields)) {
    const path = [key, 'fields', name];
    const segments = name.split('.');
    if (segments.some((segment) => segment === '')) {
      problems.push({ path, message: `field name "${name}" has an empty segment; write dotted names like profile.first_name` });
      continue;
    }
    const clash = Object.keys(fields).find((other) => other !== name && name.startsWith(`${other}.`));
    if (clash !== undefined) {
      problems.push({ path, message: `field "${name}" is nested inside field "${clash}", which is not an object; rename one of them` });
      continue;
    }
    const where = path.join('.');
    if (typeof rule === 'string') {
      const source = compileFromPath(rule, path, problems);
      if (source) compiled.push({ name, segments, source, hasDefault: false, omitIfEmpty: false, where });
      continue;
    }
    let source: FieldSource | undefined;
    if (rule.from !== undefined) source = compileFromPath(rule.from, [...path, 'from'], problems);
    else if (rule.expr !== undefined) {
      const expression = compileExpression(rule.expr, [...path, 'expr'], problems);
      if (expression) source = { kind: 'expr', expression };
    } else if (rule.fromGroups !== undefined) {
      const match = rule.fromGroups.match ?? 'displayName';
      const fold = (name: string) => (match === 'displayName' ? name.toLowerCase() : name);
      source = {
        kind: 'groups',
        match,
        table: rule.fromGroups.table.map((row) => ({ groups: new Set(row.groups.map(fold)), names: row.groups, value: row.value })),
      };
    } else source = { kind: 'value', value: rule.value };
    const when = rule.when === undefined ? undefined : compileExpression(rule.when, [...path, 'when'], problems);
    if (!source || (rule.when !== undefined && !when)) continue;
    compiled.push({
      name,
      segments,
      source,
      map: rule.map,
      hasDefault: 'default' in rule,
      default: rule.default,
      ...(rule.ref ? { ref: rule.ref } : {}),
      ...(when ? { when } : {}),
      omitIfEmpty: rule.omitIfEmpty === true,
      ...(rule.type ? { type: rule.type } : {}),
      where,
    });
  }
  return compiled;
}

function compileFromPath(scimPath: string, path: (string | number)[], problems: CompileProblem[]): FieldSource | undefined {
  const problem = scimPathProblem(scimPath);
  if (problem) {
    problems.push({ path, message: problem, offset: 0 });
    return undefined;
  }
  return { kind: 'from', path: scimPath };
}

function compileRule(rule: ValidateRule, path: (string | number)[], problems: CompileProblem[]): CompiledRule | undefined {
  const expression = compileExpression(rule.expr, [...path, 'expr'], problems);
  return expression && { expression, detail: rule.detail };
}

interface JsonataError {
  code?: string;
  position?: number;
  message?: string;
}

/**
 * Expressions run on untrusted input (whatever Entra sent), so every evaluation has a budget:
 * jsonata stops it with D1012 after `timeout` ms and with D1011 past `stack` nested evaluation
 * steps (runaway recursion), instead of holding the event loop. A validate rule that stops this
 * way rejects the write (400); a field expression fails the delivery with GW_MAP_EVAL. Normal
 * mapping expressions need a few milliseconds and a nesting of a few dozen steps.
 */
export const EXPRESSION_BUDGET = { timeout: 2_000, stack: 500 } as const;

/** Compiles JSONata once; a syntax error points at the offending character inside the expression. */
export function compileExpression(source: string, path: (string | number)[], problems: CompileProblem[]): CompiledExpression | undefined {
  try {
    const expression = jsonata(source, { ...EXPRESSION_BUDGET });
    return { source, readsGroups: /\$groups\b/.test(source), evaluate: (input, bindings) => expression.evaluate(input, bindings) };
  } catch (err) {
    const { code, position, message } = err as JsonataError;
    const urnHint =
      /urn:/i.test(source) && !source.includes('`')
        ? '; attribute names with colons must be in backticks, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.department'
        : '';
    problems.push({
      path,
      message: `JSONata ${code ?? 'error'}: ${message ?? String(err)}${urnHint}`,
      offset: typeof position === 'number' ? Math.max(0, Math.min(position - 1, source.length - 1)) : 0,
    });
    return undefined;
  }
}

function compileCall(
  key: 'users' | 'groups',
  kind: ActionKind,
  definition: CallDefinition,
  base: (string | number)[],
  fieldNames: Set<string>,
  known: { targetId: boolean; captured: Set<string> },
  problems: CompileProblem[],
  override?: { where: string; bodyPath: (string | number)[] },
): CompiledCall {
  const where = override?.where ?? (base.length === 3 ? `${key}.${kind}[${base[2]}]` : base.join('.'));
  let needsFields = false;
  let usesPrevious = false;
  const check = (template: Template, path: (string | number)[]): Template => {
    for (const part of placeholders(template)) {
      const message = placeholderProblem(part.placeholder, kind, key, fieldNames, known);
      if (message) problems.push({ path, message, offset: part.offset });
      if (part.placeholder.kind === 'field' || part.placeholder.kind === 'fields') needsFields = true;
      if (part.placeholder.kind === 'previous') usesPrevious = true;
    }
    return template;
  };
  const template = (source: string, path: (string | number)[]): Template => {
    try {
      return check(parseTemplate(source), path);
    } catch (err) {
      if (!(err instanceof TemplateSyntaxError)) throw err;
      problems.push({ path, message: err.message, offset: err.offset });
      return { source, parts: [source] };
    }
  };

  const compiledPath = template(definition.path, [...base, 'path']);
  const headers = Object.entries(definition.headers ?? {}).map(
    ([name, value]): [string, Template] => [name, template(value, [...base, 'headers', name])],
  );
  let body: BodyNode | undefined;
  if ('body' in definition) {
    body = definition.body === null ? undefined : compileBody(definition.body, override?.bodyPath ?? [...base, 'body'], template);
  } else if (FIELD_BODY_CALLS.has(kind)) {
    body = { kind: 'template', template: parseTemplate('{fields}') };
    needsFields = true;
  }

  let reader: ResponseReader | undefined;
  if (definition.targetId !== undefined) {
    try {
      reader = createTargetIdReader(definition.targetId);
    } catch (err) {
      problems.push({ path: [...base, 'targetId'], message: (err as Error).message, offset: 0 });
    }
  }
  const valueReader = (spec: string, path: (string | number)[]) => {
    try {
      return createValueReader(spec);
    } catch (err) {
      problems.push({ path, message: (err as Error).message, offset: 0 });
      return () => undefined;
    }
  };
  const capture = Object.entries(definition.capture ?? {}).map(
    ([name, spec]): [string, (answer: Answer) => unknown] => [name, valueReader(spec, [...base, 'capture', name])],
  );
  const rules = (definition.on ?? []).map((rule, index): CompiledResponseRule => {
    const path = [...base, 'on', index];
    if (rule.means === 'exists' && kind !== 'create') {
      problems.push({ path: [...path, 'means'], message: '`means: exists` is only for create calls (it links the account found by lookup)' });
    }
    if (rule.detail !== undefined && rule.means !== 'invalid') {
      problems.push({ path: [...path, 'detail'], message: '`detail` is only read for `means: invalid`' });
    }
    const match = rule.match === undefined ? undefined : compileExpression(rule.match, [...path, 'match'], problems);
    return {
      statuses: new Set(Array.isArray(rule.status) ? rule.status : [rule.status]),
      means: rule.means,
      ...(match ? { match } : {}),
      ...(rule.detail !== undefined ? { detail: valueReader(rule.detail, [...path, 'detail']) } : {}),
    };
  });
  const when = definition.when === undefined ? undefined : compileExpression(definition.when, [...base, 'when'], problems);
  if (when) needsFields = true;
  return { kind, method: definition.method, path: compiledPath, headers, body, reader, ...(when ? { when } : {}), capture, rules, needsFields, usesPrevious, where };
}

function compileBody(value: unknown, path: (string | number)[], template: (source: string, path: (string | number)[]) => Template): BodyNode {
  if (typeof value === 'string') return { kind: 'template', template: template(value, path) };
  if (Array.isArray(value)) return { kind: 'array', items: value.map((item, index) => compileBody(item, [...path, index], template)) };
  if (value !== null && typeof value === 'object') {
    return {
      kind: 'object',
      entries: Object.entries(value).map(([name, item]): [string, BodyNode] => [name, compileBody(item, [...path, name], template)]),
    };
  }
  return { kind: 'literal', value };
}

function placeholderProblem(
  placeholder: Placeholder,
  kind: ActionKind,
  key: 'users' | 'groups',
  fieldNames: Set<string>,
  known: { targetId: boolean; captured: Set<string> },
): string | undefined {
  switch (placeholder.kind) {
    case 'targetId':
      return known.targetId
        ? undefined
        : `{targetId} is not known yet in ${kind} (the target has not given an id); use {fields.<name>} or {resource.<path>}, or use it in a later call of a list, after the call with targetId`;
    case 'previous':
      return placeholder.name === undefined || fieldNames.has(placeholder.name) || [...fieldNames].some((name) => name.startsWith(`${placeholder.name}.`))
        ? undefined
        : `unknown field "${placeholder.name}": {previous.${placeholder.name}} must name a key of ${key}.fields`;
    case 'captured':
      return known.captured.has(placeholder.name)
        ? undefined
        : `{captured.${placeholder.name}} is not captured by an earlier call of ${key}.${kind}; add \`capture: { ${placeholder.name}: <response path> }\` to an earlier call (${
            known.captured.size > 0 ? `captured so far: ${[...known.captured].join(', ')}` : 'none captured so far'
          })`;
    case 'memberTargetId':
    case 'memberId':
      return kind === 'addMember' || kind === 'removeMember'
        ? undefined
        : kind === 'addMembers' || kind === 'removeMembers'
          ? `{member.…} is one member: ${kind} sends a chunk of members, use {members.targetIds} or {members.ids}`
          : `{member.…} is only available in addMember and removeMember`;
    case 'memberTargetIds':
    case 'memberIds':
      return kind === 'addMembers' || kind === 'removeMembers'
        ? undefined
        : kind === 'addMember' || kind === 'removeMember'
          ? `{members.…} is a list of members: ${kind} sends one member, use {member.targetId} or {member.id} (or define ${kind}s)`
          : `{members.…} is only available in addMembers and removeMembers`;
    case 'field':
      if (fieldNames.has(placeholder.name) || [...fieldNames].some((name) => name.startsWith(`${placeholder.name}.`))) return undefined;
      return `unknown field "${placeholder.name}": {fields.${placeholder.name}} must name a key of ${key}.fields (${
        fieldNames.size > 0 ? `known: ${[...fieldNames].join(', ')}` : 'none defined'
      })`;
    case 'resource':
      return scimPathProblem(placeholder.path);
    case 'fields':
      return undefined;
  }
}
