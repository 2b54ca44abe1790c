import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { joinTargetPath, parseTargetBase } from '../../src/delivery/target-url.js';
import { BridgeError } from '../../src/lib/errors.js';
import { parseTemplate, renderPath } from '../../src/mapping/template.js';

/**
 * Values from Entra end up in target URLs through mapping templates. Whatever a value holds
 * (`../`, `?`, `#`, `%2F`, `\`, control characters, lone surrogates), the call goes to the
 * configured origin, under the base path, to the templated path with the value as one segment
 * or one query value: or it is refused with GW_MAP_EVAL. Never another path or host.
 */

const base = parseTargetBase('http://127.0.0.1:1234/base');
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('..', '.', '../admin', '..%2Fadmin', '%2e%2e', '?admin=1', '#frag', '%2F', '/', '//evil.example', '\\evil', 'a\r\nHost: x', '\u0000', '\ud800', '@evil.example'),
  fc.array(fc.constantFrom('..', '/', '?', '#', '%', '2F', '.', '\\', '@', ':', 'a', '\u0001', '\udc00'), { maxLength: 12 }).map((parts) => parts.join('')),
);

/** What the value becomes once lone surrogates (valid in JSON, not in a URL) are replaced. */
function wellFormed(value: string): string {
  return value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function render(template: string, value: string): string | BridgeError {
  try {
    return joinTargetPath(base, renderPath(parseTemplate(template), () => value));
  } catch (error) {
    if (error instanceof BridgeError) return error;
    throw error;
  }
}

describe('target URLs built from submitted values', () => {
  it('keep a value inside its path segment', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const path = render('/api/v1/accounts/{targetId}/disable', value);
        if (path instanceof BridgeError) {
          expect(path.code).toBe('GW_MAP_EVAL');
          return;
        }
        const url = new URL(path, 'http://127.0.0.1:1234');
        expect(url.origin).toBe('http://127.0.0.1:1234');
        expect(url.search).toBe('');
        const segments = url.pathname.split('/');
        expect(segments.slice(0, 4)).toEqual(['', 'base', 'api', 'v1']);
        expect(segments).toHaveLength(7);
        expect(segments.slice(4, 7).map((s, i) => (i === 1 ? 'X' : s))).toEqual(['accounts', 'X', 'disable']);
        expect(decodeURIComponent(segments[5]!)).toBe(wellFormed(value));
      }),
      { numRuns: 2_000, seed: 5 },
    );
  });

  it('keep a value inside its query parameter', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const path = render('/api/v1/accounts?login={fields.login}', value);
        if (path instanceof BridgeError) {
          expect(path.code).toBe('GW_MAP_EVAL');
          return;
        }
        const url = new URL(path, 'http://127.0.0.1:1234');
        expect(url.pathname).toBe('/base/api/v1/accounts');
        expect([...url.searchParams.keys()]).toEqual(['login']);
        expect(url.searchParams.get('login')).toBe(wellFormed(value));
      }),
      { numRuns: 2_000, seed: 6 },
    );
  });

  it('refuses dot segments rather than letting them climb out of the base path', () => {
    for (const value of ['..', '.']) expect((render('/api/v1/accounts/{targetId}', value) as BridgeError).code).toBe('GW_MAP_EVAL');
  });
});

describe('the plain-path shortcut', () => {
  /** What joinTargetPath answered before the shortcut: always through URL parsing. */
  function parsed(path: string): string {
    const url = new URL(`${base.basePath}${path}`, base.origin);
    return `${url.pathname}${url.search}`;
  }
  const plain = fc
    .array(fc.constantFrom(...'abcXYZ019-._~!$&()*+,;=:@/%?'.split(''), '%2F', '%41', '%zz', '?q=1', '/x'), { maxLength: 20 })
    .map((parts) => `/${parts.join('')}`);

  it('answers what URL parsing answers, for every path it takes', () => {
    fc.assert(
      fc.property(plain, (path) => {
        let expected: string | BridgeError;
        try {
          expected = joinTargetPath(base, path);
        } catch (error) {
          expected = error as BridgeError;
        }
        if (expected instanceof BridgeError) return;
        expect(expected).toBe(parsed(path));
      }),
      { numRuns: 2_000 },
    );
  });

  it('leaves to URL parsing what it would change', () => {
    for (const path of ['/users?', "/a'b?x='y'", '/ü', '/a b'.replace(' ', '%20'), '/a^b', '/a|b', '/{x}', '/a"b', '/q?a<b']) {
      let answer: string | BridgeError;
      try {
        answer = joinTargetPath(base, path);
      } catch (error) {
        answer = error as BridgeError;
      }
      if (!(answer instanceof BridgeError)) expect(answer, path).toBe(parsed(path));
    }
  });
});
