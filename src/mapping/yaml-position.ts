import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Scalar } from 'yaml';

/**
 * Finds where a problem is in the YAML text, for `file:line:col` messages: the key of the
 * offending entry, or (with an offset) the exact character inside a string value, e.g. the
 * column of a JSONata syntax error within a quoted or block scalar.
 * @see https://eemeli.org/yaml/#options (LineCounter)
 */

export interface Position {
  line: number;
  col: number;
}

export function locate(doc: Document, lineCounter: LineCounter, source: string, path: (string | number)[], offset?: number): Position {
  let node: unknown = doc.contents;
  let anchor: Node | undefined = isNode(node) ? node : undefined;
  let depth = 0;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(step));
      if (!pair) break;
      anchor = isNode(pair.key) ? pair.key : anchor;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
      node = node.items[step];
      anchor = isNode(node) ? node : anchor;
    } else break;
    depth += 1;
  }
  let at = anchor?.range?.[0] ?? 0;
  if (offset !== undefined && isScalar(node) && depth === path.length) {
    at = scalarOffset(source, node, offset);
  }
  return lineCounter.linePos(at);
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}

/** Source offset of character `index` of a scalar's value, following YAML quoting and folding. */
export function scalarOffset(source: string, node: Scalar, index: number): number {
  const [start = 0, end = source.length] = node.range ?? [];
  const type = node.type ?? 'PLAIN';
  const block = type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED';
  let pos = start;
  let indent = 0;
  if (block) {
    pos = source.indexOf('\n', start) + 1;
    while (source[pos] === '\n') pos += 1;
    while (source[pos + indent] === ' ') indent += 1;
    pos += indent;
  } else if (type === 'QUOTE_SINGLE' || type === 'QUOTE_DOUBLE') {
    pos += 1;
  }
  for (let i = 0; i < index && pos < end; i += 1) {
    const ch = source[pos];
    if (ch === '\n') {
      pos += 1;
      if (block) for (let n = 0; n < indent && source[pos] === ' '; n += 1) pos += 1;
      else while (source[pos] === ' ' || source[pos] === '\t') pos += 1;
    } else if (type === 'QUOTE_SINGLE' && ch === "'" && source[pos + 1] === "'") {
      pos += 2;
    } else if (type === 'QUOTE_DOUBLE' && ch === '\\') {
      const escape = source[pos + 1];
      pos += escape === 'u' ? 6 : escape === 'x' ? 4 : escape === 'U' ? 10 : 2;
    } else {
      pos += 1;
    }
  }
  return Math.min(pos, end);
}
