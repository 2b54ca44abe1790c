import secureJson from 'secure-json-parse';
import { badRequest } from '../scim/errors.js';

/**
 * Request bodies as the rest of the bridge may assume them: valid JSON, nested no deeper than
 * the configured limit, and free of `__proto__` / `constructor.prototype` keys. Plain
 * `JSON.parse` keeps `__proto__` as a key, and copying such an object into a new one sets that
 * object's prototype: `{"__proto__":{"displayName":"X"}}` then "has" a displayName that is never
 * stored. Nesting is checked on the raw text, before parsing, by a loop rather than recursion,
 * so a body of 100,000 brackets costs one pass and no stack.
 */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') return undefined;
  const depth = nestingDepth(text, maxDepth);
  if (depth > maxDepth) throw badRequest('invalidSyntax', `request body nests deeper than ${maxDepth} levels`);
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    if (/forbidden prototype property/i.test((error as Error).message)) {
      throw badRequest('invalidSyntax', 'request body must not contain "__proto__" or "constructor.prototype" keys');
    }
    throw badRequest('invalidSyntax', 'request body is not valid JSON');
  }
}

/**
 * The deepest object/array nesting of JSON text, counting brackets outside strings; it stops
 * counting once past `stopAbove`. Malformed text gives some number: JSON.parse rejects it next.
 */
export function nestingDepth(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > stopAbove) return deepest;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
