import { randomUUID } from 'node:crypto';
import { normalizeResource } from '../../src/scim/normalize.js';
import { newResource } from '../../src/scim/resource.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import type { LoadRequest } from './load.js';

/**
 * The requests Entra makes per user, shaped like the recorded ones in test/fixtures/entra
 * (default attribute mapping): a `userName eq` probe, a POST, a PATCH of a few attributes.
 * User names are emails because mappings/sample-legacy.yaml rejects anything else.
 */

export function userName(run: string, i: number): string {
  return `bench.user${i}.${run}@contoso.example`;
}

export function entraUserBody(run: string, i: number): Record<string, unknown> {
  const name = userName(run, i);
  return {
    schemas: [SCHEMA_USER, SCHEMA_ENTERPRISE_USER],
    externalId: `ext-${run}-${i}`,
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
export function storedUserDoc(run: string, i: number): ScimResource {
  return newResource('User', normalizeResource('User', entraUserBody(run, i)), { id: randomUUID(), now: new Date() }).doc;
}
