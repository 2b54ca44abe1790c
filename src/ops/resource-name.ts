import type { ScimResource } from '../scim/types.js';

/** The resource's name as the dashboard may show it: userName or displayName, nothing else. */
export function resourceName(resource: ScimResource): string | undefined {
  const doc = resource as { userName?: unknown; displayName?: unknown };
  const name = typeof doc.userName === 'string' ? doc.userName : typeof doc.displayName === 'string' ? doc.displayName : undefined;
  return name?.slice(0, 200);
}
