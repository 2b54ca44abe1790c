/**
 * The linear pre-pass that lets scim2-parse-filter read value-path comparisons: the library
 * parses `emails[type eq "work"]` but not `emails[type eq "work"].value eq "x"`, which Entra
 * sends for matching on a work email. Kept apart from filter compilation because it works on
 * untrusted text character by character.
 */

/**
 * `emails[type eq "work"].value eq "x"` → `emails[(type eq "work") and value eq "x"]`, for
 * `attr[filter].sub op value`, `attr[filter].sub pr` and the older `attr[filter] op value`
 * (MicrosoftDocs/azure-docs#83855); scim2-parse-filter reads the first as an uncorrelated `and`.
 *
 * A single left-to-right scan rather than a regex: the filter is untrusted, and every pattern
 * tried for this backtracked quadratically on long inputs. Each character is read a bounded
 * number of times: a failed match resumes where its scan stopped, and the value filter's scan
 * stops at the next bracket, so two scans never cover the same text.
 */
export function rewriteValuePathComparisons(filter: string): string {
  let out = '';
  let i = 0;
  while (i < filter.length) {
    if (filter[i] === '"') {
      const end = quotedEnd(filter, i);
      out += filter.slice(i, end);
      i = end;
      continue;
    }
    if (!PATH_CHAR.test(filter[i]!)) {
      out += filter[i];
      i++;
      continue;
    }
    const attributeEnd = runEnd(filter, i, PATH_CHAR);
    const attribute = filter.slice(i, attributeEnd);
    const inner = /^[A-Za-z]/.test(attribute) && filter[attributeEnd] === '[' ? valueFilterEnd(filter, attributeEnd + 1) : -1;
    if (inner === -1) {
      out += attribute;
      i = attributeEnd;
      continue;
    }
    const rewritten = comparisonAfter(filter, inner + 1);
    const valueFilter = filter.slice(attributeEnd + 1, inner);
    if (rewritten) {
      out += `${attribute}[(${valueFilter}) and ${rewritten.sub ?? 'value'}${rewritten.comparison}]`;
      i = rewritten.end;
    } else {
      out += filter.slice(i, inner + 1);
      i = inner + 1;
    }
  }
  return out;
}

const PATH_CHAR = /[\w$:.-]/;
const NAME_START = /[A-Za-z$]/;
const NAME_CHAR = /[\w$-]/;
const SPACE = /\s/;
const COMPARISON_OPERATORS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le']);

/** Index of the quote closing the literal that starts at `start`, or -1 when it is unterminated. */
function closingQuote(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i < text.length ? i : -1;
}

/** Index just past the quoted literal starting at `start` (the end for an unterminated one). */
function quotedEnd(text: string, start: number): number {
  const close = closingQuote(text, start);
  return close === -1 ? text.length : close + 1;
}

function runEnd(text: string, start: number, chars: RegExp): number {
  let i = start;
  while (i < text.length && chars.test(text[i]!)) i++;
  return i;
}

/** Index of the `]` closing a value filter that starts at `start`; -1 at a nested `[` or the end. */
function valueFilterEnd(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const c = text[i];
    if (c === ']') return i;
    if (c === '[') return -1;
    i = c === '"' ? quotedEnd(text, i) : i + 1;
  }
  return -1;
}

/** `.sub op value` or `.sub pr` (sub optional) right after a value filter's `]`, or undefined. */
function comparisonAfter(text: string, start: number): { sub?: string; comparison: string; end: number } | undefined {
  let i = start;
  let sub: string | undefined;
  if (text[i] === '.' && NAME_START.test(text[i + 1] ?? '')) {
    const subEnd = runEnd(text, i + 2, NAME_CHAR);
    sub = text.slice(i + 1, subEnd);
    i = subEnd;
  }
  const operatorStart = runEnd(text, i, SPACE);
  if (operatorStart === i) return undefined;
  const operatorEnd = runEnd(text, operatorStart, /[A-Za-z]/);
  const operator = text.slice(operatorStart, operatorEnd).toLowerCase();
  let end: number;
  if (operator === 'pr') {
    end = operatorEnd;
  } else if (COMPARISON_OPERATORS.has(operator)) {
    const valueStart = runEnd(text, operatorEnd, SPACE);
    if (valueStart === operatorEnd || valueStart === text.length) return undefined;
    if (text[valueStart] === '"') {
      const close = closingQuote(text, valueStart);
      if (close === -1) return undefined;
      end = close + 1;
    } else {
      end = runEnd(text, valueStart, /[^\s()"\]]/);
      if (end === valueStart) return undefined;
    }
  } else {
    return undefined;
  }
  return { ...(sub === undefined ? {} : { sub }), comparison: text.slice(i, end), end };
}
