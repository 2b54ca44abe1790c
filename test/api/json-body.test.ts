import { describe, expect, it } from 'vitest';
import { nestingDepth, parseJsonBody } from '../../src/api/json-body.js';
import { requestIdOf } from '../../src/api/transport-errors.js';
import { errorOf } from '../helpers/scim-error.js';

describe('parseJsonBody', () => {
  it('counts nesting outside strings only', () => {
    expect(nestingDepth('{"a":[1,{"b":"[[[{{{"}]}')).toBe(3);
    expect(nestingDepth('"\\"[["')).toBe(0);
    expect(nestingDepth('['.repeat(1_000_000), 10)).toBe(11);
  });

  it('rejects bodies deeper than the limit before parsing them', () => {
    expect(parseJsonBody('{"a":{"b":{}}}', 3)).toEqual({ a: { b: {} } });
    const error = errorOf(() => parseJsonBody('{"a":{"b":{"c":[]}}}', 3));
    expect([error.status, error.scimType, error.detail]).toEqual([400, 'invalidSyntax', 'request body nests deeper than 3 levels']);
  });

  it('rejects __proto__ and constructor.prototype keys, and gives nothing a prototype', () => {
    expect(errorOf(() => parseJsonBody('{"__proto__":{"displayName":"X"}}', 64)).detail).toMatch(/__proto__/);
    expect(errorOf(() => parseJsonBody('{"a":{"constructor":{"prototype":{}}}}', 64)).detail).toMatch(/constructor/);
    expect(parseJsonBody('{"constructor":"fine"}', 64)).toEqual({ constructor: 'fine' });
  });

  it('reads an empty body as no body and bad JSON as invalidSyntax', () => {
    expect(parseJsonBody('  ', 64)).toBeUndefined();
    expect(errorOf(() => parseJsonBody('{"a":', 64)).detail).toBe('request body is not valid JSON');
  });
});

describe('requestIdOf', () => {
  it('keeps a plain client request id and replaces anything else', () => {
    expect(requestIdOf({ headers: { 'x-request-id': 'abc-123_X.y:z' } })).toBe('abc-123_X.y:z');
    for (const bad of ['<script>', 'a b', 'x'.repeat(129), '', 'ä']) {
      const id = requestIdOf({ headers: { 'x-request-id': bad } });
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(requestIdOf({ headers: { 'x-request-id': ['a', 'b'] } })).toMatch(/^[0-9a-f-]{36}$/);
  });
});
