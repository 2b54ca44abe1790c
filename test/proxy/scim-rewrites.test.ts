import { describe, expect, it } from 'vitest';
import { PROXY_REWRITES, type ProxyRewrite } from '../../src/config/schema.js';
import { createCircuitBreaker } from '../../src/proxy/circuit-breaker.js';
import { rewriteQuery } from '../../src/proxy/query-string.js';
import { fixResponseBody, rewriteLocation } from '../../src/proxy/scim-response.js';
import { rewriteFilter, rewritePatch, rewriteResource } from '../../src/proxy/scim-rewrites.js';
import { BUILT_IN_SCHEMAS } from '../../src/scim/schema-registry.js';

const ALL = new Set<ProxyRewrite>(PROXY_REWRITES);
const only = (...names: ProxyRewrite[]) => new Set<ProxyRewrite>(names);
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const USERS = { type: 'User' as const, registry: BUILT_IN_SCHEMAS };
const GROUPS = { type: 'Group' as const, registry: BUILT_IN_SCHEMAS };
const patch = (...Operations: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations });

describe('proxy rewrites, one at a time', () => {
  it('lowercaseOps', () => {
    expect(rewritePatch(USERS, patch({ op: 'Replace', path: 'displayName', value: 'x' }), only('lowercaseOps'))).toEqual(
      patch({ op: 'replace', path: 'displayName', value: 'x' }),
    );
  });

  it('booleanStrings in bodies, PATCH values and filters', () => {
    expect(rewriteResource(USERS, { userName: 'a', active: 'True', emails: [{ value: 'a@x', primary: 'false' }] }, only('booleanStrings'))).toEqual({
      userName: 'a',
      active: true,
      emails: [{ value: 'a@x', primary: false }],
    });
    expect(rewritePatch(USERS, patch({ op: 'replace', path: 'active', value: 'False' }), only('booleanStrings'))).toEqual(patch({ op: 'replace', path: 'active', value: false }));
    expect(rewriteFilter('active eq "True" and userName eq "true"', only('booleanStrings'))).toBe('active eq true and userName eq "true"');
  });

  it('memberRemoveValueArray', () => {
    expect(rewritePatch(GROUPS, patch({ op: 'remove', path: 'members', value: [{ value: 'u1' }, { value: 'u"2' }] }), only('memberRemoveValueArray'))).toEqual(
      patch({ op: 'remove', path: 'members[value eq "u1"]' }, { op: 'remove', path: 'members[value eq "u\\"2"]' }),
    );
  });

  it('expandDottedPaths', () => {
    expect(rewritePatch(USERS, patch({ op: 'replace', value: { 'name.givenName': 'A', [`${ENTERPRISE}:department`]: 'D', active: false } }), only('expandDottedPaths'))).toEqual(
      patch(
        { op: 'replace', path: 'name.givenName', value: 'A' },
        { op: 'replace', path: `${ENTERPRISE}:department`, value: 'D' },
        { op: 'replace', path: 'active', value: false },
      ),
    );
  });

  it('managerAsObject in bodies and PATCH', () => {
    expect(rewriteResource(USERS, { userName: 'a', [ENTERPRISE]: { manager: 'm1', department: 'x' } }, only('managerAsObject'))).toEqual({
      userName: 'a',
      [ENTERPRISE]: { manager: { value: 'm1' }, department: 'x' },
    });
    expect(rewritePatch(USERS, patch({ op: 'add', path: `${ENTERPRISE}:manager`, value: [{ $ref: 'x', value: 'm2' }] }), only('managerAsObject'))).toEqual(
      patch({ op: 'add', path: `${ENTERPRISE}:manager`, value: { value: 'm2' } }),
    );
  });

  it('dropNulls and emptyValueAsRemove', () => {
    expect(rewriteResource(USERS, { userName: 'a', addresses: null, name: { givenName: null, familyName: 'F' } }, only('dropNulls'))).toEqual({
      userName: 'a',
      name: { familyName: 'F' },
    });
    expect(rewritePatch(GROUPS, patch({ op: 'add', path: 'members', value: [{ $ref: null, value: 'u1' }] }), only('dropNulls'))).toEqual(
      patch({ op: 'add', path: 'members', value: [{ value: 'u1' }] }),
    );
    expect(rewritePatch(USERS, patch({ op: 'replace', path: 'title', value: '' }), only('emptyValueAsRemove'))).toEqual(patch({ op: 'remove', path: 'title' }));
  });

  it('membersFilterValue leaves quoted values alone', () => {
    expect(rewriteFilter('id eq "g" and members eq "members eq x"', only('membersFilterValue'))).toBe('id eq "g" and members.value eq "members eq x"');
  });

  it('does nothing when switched off, and leaves what it does not know', () => {
    const body = patch({ op: 'Replace', path: 'active', value: 'False' });
    expect(rewritePatch(USERS, body, new Set())).toEqual(body);
    expect(rewritePatch(USERS, 'not json', ALL)).toBe('not json');
    expect(rewritePatch(USERS, { Operations: 'x' }, ALL)).toEqual({ Operations: 'x' });
    expect(rewritePatch(USERS, patch({ op: 'replace', path: '[[', value: 'x' }), ALL)).toEqual(patch({ op: 'replace', path: '[[', value: 'x' }));
  });
});

describe('query and response fixes', () => {
  it('rewrites only the filter parameter, keeping the others byte for byte', () => {
    const url = '/acme/scim/v2/Groups?filter=members+eq+%22u1%22&attributes=id&aadOptscim062020';
    expect(rewriteQuery(url, (f) => rewriteFilter(f, ALL))).toBe(`filter=${encodeURIComponent('members.value eq "u1"')}&attributes=id&aadOptscim062020`);
    expect(rewriteQuery('/x', (f) => f)).toBe('');
    expect(rewriteQuery('/x?filter=%E0%A4%A', (f) => `${f}!`)).toBe('filter=%E0%A4%A');
  });

  it('moves target URLs to the bridge and fixes list and error shapes', () => {
    const target = 'http://up:1/scim/v2';
    const bridge = 'https://bridge/acme/scim/v2';
    expect(rewriteLocation('http://up:1/scim/v2/Users/1', target, bridge)).toBe('https://bridge/acme/scim/v2/Users/1');
    expect(rewriteLocation('http://up:1/scim/v22/x', target, bridge)).toBe('http://up:1/scim/v22/x');
    const list = JSON.parse(fixResponseBody(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0 }), target, bridge));
    expect(list.Resources).toEqual([]);
    const error = JSON.parse(fixResponseBody(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: 409 }), target, bridge));
    expect(error.status).toBe('409');
    expect(fixResponseBody('not json', target, bridge)).toBe('not json');
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, lets one trial through after openMs, closes on success', () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failures: 2, openMs: 1_000, now: () => now });
    breaker.failed();
    expect(breaker.admit()).toEqual({ allowed: true });
    breaker.failed();
    expect(breaker.admit()).toEqual({ allowed: false, retryAfterMs: 1_000 });
    now = 1_000;
    expect(breaker.admit()).toEqual({ allowed: true });
    expect(breaker.admit().allowed).toBe(false);
    breaker.failed();
    expect(breaker.state).toBe('open');
    now = 2_000;
    expect(breaker.admit()).toEqual({ allowed: true });
    breaker.succeeded();
    expect(breaker.state).toBe('closed');
    expect(breaker.admit()).toEqual({ allowed: true });
  });
});
