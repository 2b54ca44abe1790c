import { describe, expect, it } from 'vitest';
import { SCIM_ERRORS, scimError, type ScimErrorCode } from '../../src/scim/error-catalog.js';
import { ScimError } from '../../src/scim/errors.js';
import { compileFilter } from '../../src/scim/filter.js';
import { normalizePatch } from '../../src/scim/normalize.js';
import { applyPatch } from '../../src/scim/patch.js';
import { parsePath } from '../../src/scim/paths.js';
import type { ScimResource } from '../../src/scim/types.js';

/**
 * SCIM errors have a code, a fixed detail template and parameters that are server-known names
 * and numbers: submitted values never reach a detail, so nothing needs scrubbing.
 */

/** Every parameter name a template may use; each is a name, a position or a number, never a value. */
const PARAMETERS = new Set(['attribute', 'operation', 'op', 'method', 'type', 'limit', 'count', 'expected', 'parameter', 'requestId', 'rules', 'what', 'status', 'reason']);

describe('the catalogue', () => {
  it.each(Object.keys(SCIM_ERRORS) as ScimErrorCode[])('%s has a valid status/scimType pair and known parameters only', (code) => {
    const [, , template] = SCIM_ERRORS[code];
    for (const [, name] of template.matchAll(/\{(\w+)\}/g)) expect(PARAMETERS).toContain(name);
    const error = scimError(code, { attribute: 'userName', operation: 'Operations[2]', limit: 10 });
    expect(error).toBeInstanceOf(ScimError);
    expect(error.code).toBe(code);
    expect(error.detail).not.toMatch(/\{(attribute|operation|limit)\}/);
  });
});

describe('details never carry submitted values', () => {
  const SECRET = 'ada.lovelace@example.com';
  const user: ScimResource = {
    id: 'u-1',
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    meta: { resourceType: 'User', created: '2024-01-01T00:00:00Z', lastModified: '2024-01-01T00:00:00Z' },
    userName: 'someone',
    emails: 'not-a-list',
    name: 'flat',
  };
  const failure = (run: () => unknown): ScimError => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ScimError);
      return error as ScimError;
    }
    throw new Error('expected a ScimError');
  };
  const patch = (path: string, value: unknown = SECRET) =>
    failure(() => applyPatch('User', user, normalizePatch('User', { Operations: [{ op: 'replace', path, value }] })));

  it.each([
    ['an unparsable filter', () => failure(() => compileFilter('User', `userName eq "${SECRET}" and (`))],
    ['a filter with a bad attribute path', () => failure(() => compileFilter('User', `emails[value eq "${SECRET}"][x] eq "${SECRET}"`))],
    ['a path with a broken value filter', () => failure(() => parsePath(`emails[value eq "${SECRET}"`))],
    ['a filtered path on a single-valued attribute', () => patch(`emails[value eq "${SECRET}"].value`)],
    ['a sub-attribute of a plain string', () => patch('name.givenName')],
  ])('%s', (_label, run) => {
    const error = run();
    expect(error.code).toBeDefined();
    expect(error.detail).not.toContain('ada');
    expect(error.detail).not.toContain('@');
  });
});
