/**
 * Templates in call paths, headers and bodies: `/accounts/{targetId}`, `{fields.login}`,
 * `{resource.emails[type eq "work"].value}`. Parsed once at load so that a typo is a load error
 * with a column, never a surprise while delivering. `{{` and `}}` write literal braces.
 */

export type Placeholder =
  | { kind: 'targetId' }
  | { kind: 'fields' }
  | { kind: 'field'; name: string }
  | { kind: 'memberTargetId' }
  | { kind: 'memberId' }
  /** The target ids (or SCIM ids) of a chunk of members: a list (addMembers, removeMembers). */
  | { kind: 'memberTargetIds' }
  | { kind: 'memberIds' }
  | { kind: 'captured'; name: string }
  | { kind: 'previous'; name?: string }
  | { kind: 'resource'; path: string };

/** A placeholder and where it starts in the template text (for error columns). */
export interface PlaceholderPart {
  placeholder: Placeholder;
  offset: number;
  text: string;
}

export interface Template {
  source: string;
  parts: (string | PlaceholderPart)[];
}

/** A template that does not parse; `offset` is the index in the template text. */
export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const PLACEHOLDER_HELP =
  'use {targetId}, {fields}, {fields.<name>}, {previous}, {previous.<name>}, {member.targetId}, {member.id}, {members.targetIds}, {members.ids}, {captured.<name>} or {resource.<SCIM path>}';

export function parseTemplate(source: string): Template {
  const parts: (string | PlaceholderPart)[] = [];
  let literal = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    const next = source[i + 1];
    if ((ch === '{' && next === '{') || (ch === '}' && next === '}')) {
      literal += ch;
      i += 2;
      continue;
    }
    if (ch === '}') {
      throw new TemplateSyntaxError('unmatched "}"; write "}}" for a literal brace', i);
    }
    if (ch !== '{') {
      literal += ch;
      i += 1;
      continue;
    }
    const end = findClosingBrace(source, i + 1);
    if (end < 0) throw new TemplateSyntaxError('unclosed "{"; close the placeholder with "}" or write "{{" for a literal brace', i);
    const text = source.slice(i + 1, end);
    if (literal) parts.push(literal);
    literal = '';
    parts.push({ placeholder: parsePlaceholder(text.trim(), i), offset: i, text });
    i = end + 1;
  }
  if (literal) parts.push(literal);
  return { source, parts };
}

/** Index of the `}` closing a placeholder, skipping braces inside double-quoted filter values. */
function findClosingBrace(source: string, from: number): number {
  let quoted = false;
  for (let i = from; i < source.length; i += 1) {
    const ch = source[i];
    if (ch === '"' && source[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && ch === '}') return i;
  }
  return -1;
}

function parsePlaceholder(text: string, offset: number): Placeholder {
  if (text === 'targetId') return { kind: 'targetId' };
  if (text === 'fields') return { kind: 'fields' };
  if (text === 'member.targetId') return { kind: 'memberTargetId' };
  if (text === 'member.id') return { kind: 'memberId' };
  if (text === 'members.targetIds') return { kind: 'memberTargetIds' };
  if (text === 'members.ids') return { kind: 'memberIds' };
  if (text.startsWith('fields.') && text.length > 'fields.'.length) return { kind: 'field', name: text.slice('fields.'.length) };
  if (text === 'previous') return { kind: 'previous' };
  if (text.startsWith('previous.') && text.length > 'previous.'.length) return { kind: 'previous', name: text.slice('previous.'.length) };
  if (text.startsWith('captured.') && text.length > 'captured.'.length) return { kind: 'captured', name: text.slice('captured.'.length) };
  if (text.startsWith('resource.') && text.length > 'resource.'.length) return { kind: 'resource', path: text.slice('resource.'.length) };
  throw new TemplateSyntaxError(`unknown placeholder {${text}}; ${PLACEHOLDER_HELP}`, offset);
}

/** True when the template is one placeholder and nothing else: its value keeps its JSON type. */
export function singlePlaceholder(template: Template): PlaceholderPart | undefined {
  const [only] = template.parts;
  return template.parts.length === 1 && typeof only !== 'string' ? only : undefined;
}

export function placeholders(template: Template): PlaceholderPart[] {
  return template.parts.filter((part): part is PlaceholderPart => typeof part !== 'string');
}

/** The value of a placeholder for one render, or undefined when there is none. */
export type PlaceholderResolver = (placeholder: Placeholder) => unknown;

/** Thrown by the renderers when a placeholder has no value where one is needed. */
export class MissingValueError extends Error {
  override readonly name = 'MissingValueError';
  constructor(readonly part: PlaceholderPart) {
    super(`{${part.text}} has no value for this resource`);
  }
}

function interpolate(template: Template, resolve: PlaceholderResolver, encode: (s: string) => string): string {
  let out = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = resolve(part.placeholder);
    if (value === undefined || value === null) throw new MissingValueError(part);
    // A chunk of member ids inside text (`?ids={members.targetIds}`) is a comma-separated list,
    // each id encoded on its own.
    if (Array.isArray(value) && (part.placeholder.kind === 'memberTargetIds' || part.placeholder.kind === 'memberIds')) {
      out += value.map((item) => encode(String(item))).join(',');
      continue;
    }
    out += encode(typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return out;
}

/** Renders a URL path: every value is URL-encoded and a missing value is an error, never "undefined". */
export function renderPath(template: Template, resolve: PlaceholderResolver): string {
  return interpolate(template, resolve, encodePathValue);
}

/** Unpaired UTF-16 surrogates: valid in JSON (`"\ud800"`), but encodeURIComponent throws on them. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * One value as one URL component: `/`, `?`, `#`, `%` and control characters are escaped, so a
 * value can never add a path segment or a query (delivery/target-url.ts refuses `.` and `..`).
 */
function encodePathValue(value: string): string {
  return encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'));
}

/**
 * Renders a body or header string. A lone placeholder keeps the value's type (and may be
 * undefined: the caller then omits the key); otherwise values are interpolated as text.
 */
export function renderValue(template: Template, resolve: PlaceholderResolver): unknown {
  const only = singlePlaceholder(template);
  if (only) return resolve(only.placeholder);
  return interpolate(template, resolve, (s) => s);
}
