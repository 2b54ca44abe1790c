import type { ResponseReader } from './types.js';

/**
 * `targetId:` of a create or lookup call: where the new account's id is in the target's answer.
 * Either a path into the JSON body (`id`, `data.account_id`, `data[0].account_id`) or
 * `header:<name>`, which takes the last path segment of that header (made for `Location:
 * /api/widgets/42`).
 */

type Step = string | number;

const PATH_PATTERN = /^(?:[^.[\]\s]+|\[\d+\])(?:\.[^.[\]\s]+|\[\d+\])*$/;
const HEADER_PREFIX = 'header:';

/** The parts of a target's answer a reader looks at. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** `targetId: scim:id`: no id from the answer; the bridge's SCIM id is the target id (bound in evaluate.ts). */
export const SCIM_ID_SPEC = 'scim:id';

/** Parses a `targetId:` spec; throws an Error whose message says how to write a valid one. */
export function createTargetIdReader(spec: string): ResponseReader {
  if (spec === SCIM_ID_SPEC) return { spec, readTargetId: () => undefined };
  const read = createValueReader(spec);
  return { spec, readTargetId: (response) => asId(read(response)) };
}

/**
 * Parses a response path (`targetId:`, `capture:`, a rule's `detail:`): a dotted path into the
 * JSON body or `header:<name>`. Throws an Error whose message says how to write a valid one.
 */
export function createValueReader(spec: string): (response: Answer) => unknown {
  if (spec.startsWith(HEADER_PREFIX)) {
    const header = spec.slice(HEADER_PREFIX.length).trim().toLowerCase();
    if (!/^[a-z0-9-]+$/.test(header)) {
      throw new Error(`"${spec}" is not a header name; write e.g. "header:location"`);
    }
    return (response) => lastSegment(findHeader(response.headers, header));
  }
  if (!PATH_PATTERN.test(spec)) {
    throw new Error(`"${spec}" is not a response path; write a dotted path such as "id", "data.account_id" or "data[0].account_id", or "header:location"`);
  }
  const steps = parseSteps(spec);
  return (response) => walk(response.body, steps);
}

/** What an answer had instead of the id, for GW_MAP_NO_TARGET_ID: its top-level keys, or its kind. */
export function answerShape(body: unknown): string {
  if (body === undefined || body === null || body === '') return 'an empty body';
  if (Array.isArray(body)) return `a list of ${body.length}${body.length > 0 ? `, first with ${answerShape(body[0])}` : ''}`;
  if (typeof body !== 'object') return `a ${typeof body}`;
  const keys = Object.keys(body).slice(0, 20);
  return keys.length === 0 ? 'an empty object' : `keys ${keys.join(', ')}${Object.keys(body).length > 20 ? ', …' : ''}`;
}

function parseSteps(spec: string): Step[] {
  const steps: Step[] = [];
  for (const match of spec.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    steps.push(match[2] !== undefined ? Number(match[2]) : (match[1] ?? ''));
  }
  return steps;
}

function walk(value: unknown, steps: Step[]): unknown {
  let current = value;
  for (const step of steps) {
    if (typeof step === 'number') {
      current = Array.isArray(current) ? current[step] : undefined;
    } else {
      current = current !== null && typeof current === 'object' && !Array.isArray(current) ? (current as Record<string, unknown>)[step] : undefined;
    }
  }
  return current;
}

function asId(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function findHeader(headers: Record<string, string>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/** `https://x/api/widgets/42?x=1` → `42`; a plain value is returned as is. */
function lastSegment(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const path = value.split(/[?#]/)[0] ?? '';
  const segment = path.replace(/\/+$/, '').split('/').pop();
  if (!segment) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
