import { randomUUID } from 'node:crypto';
import { SCHEMA_GROUP, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';

const META_TIME = '2024-05-01T10:00:00.000Z';

/** A user shaped like Entra's default attribute mapping sends it. */
export function entraUser(userName: string, extra: Record<string, unknown> = {}): ScimResource {
  return {
    id: randomUUID(),
    schemas: [SCHEMA_USER],
    userName,
    active: true,
    displayName: 'Ada Lovelace',
    emails: [{ primary: true, type: 'work', value: userName }],
    externalId: randomUUID(),
    name: { formatted: 'Ada Lovelace', familyName: 'Lovelace', givenName: 'Ada' },
    meta: { resourceType: 'User', created: META_TIME, lastModified: META_TIME },
    ...extra,
  };
}

export function scimGroup(displayName: string, extra: Record<string, unknown> = {}): ScimResource {
  return {
    id: randomUUID(),
    schemas: [SCHEMA_GROUP],
    displayName,
    meta: { resourceType: 'Group', created: META_TIME, lastModified: META_TIME },
    ...extra,
  };
}

/** A value unique to one test, so tests sharing a store never collide. */
export function unique(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}
