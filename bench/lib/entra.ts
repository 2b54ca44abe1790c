import { randomUUID } from 'node:crypto';
import { normalizeResource } from '../../src/scim/normalize.js';
import { newResource } from '../../src/scim/resource.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import type { LoadRequest } from './load.js';

/**
 * The requests Entra makes per user, shaped like the recorded ones in test/fixtures/entra
 * (default attribute mapping): a `userName eq` probe, a POST, a PATCH of a few attributes.
 * User names are emails, as long as a typical tenant's, because mappings/sample-legacy.yaml
 * rejects anything else and because their length counts in the memory per user. Every benchmark
 * has its own store, so `i` alone keeps them unique.
 */

export function userName(i: number): string {
  return `first.last${i}@contoso.onmicrosoft.com`;
}

export function entraUserBody(i: number): Record<string, unknown> {
  const name = userName(i);
  return {
    schemas: [SCHEMA_USER, SCHEMA_ENTERPRISE_USER],
    externalId: randomUUID(),
    userName: name,
    active: true,
    displayName: `Bench User ${i}`,
    emails: [{ primary: true, type: 'work', value: name }],
    meta: { resourceType: 'User' },
    name: { formatted: `Bench User ${i}`, familyName: `User ${i}`, givenName: 'Bench' },
    [SCHEMA_ENTERPRISE_USER]: { department: 'Sales', employeeNumber: String(100_000 + i) },
    roles: [],
  };
}

/** A patch like Entra's "update user" with the `aadOptscim062020` flag off (capitalised ops). */
export function entraUserPatch(i: number): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [
      { op: 'Replace', path: 'displayName', value: `Bench User ${i} (renamed)` },
      { op: 'Replace', path: 'name.givenName', value: 'Benchmark' },
      { op: 'Replace', path: `${SCHEMA_ENTERPRISE_USER}:department`, value: 'Marketing' },
    ],
  };
}

export function filterByUserName(name: string): LoadRequest {
  return { kind: 'filter', method: 'GET', path: `/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`, expect: 200 };
}

/** The stored document the API would make of a POST body, for seeding the store directly. */
export function storedUserDoc(i: number): ScimResource {
  return newResource('User', normalizeResource('User', entraUserBody(i)), { id: randomUUID(), now: new Date() }).doc;
}
