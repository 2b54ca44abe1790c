import { parsePath } from '../scim/paths.js';

export { getValue } from '../scim/paths.js';

/**
 * The SCIM path syntax check for `from:` and `{resource.…}`, done at load so that a malformed
 * path is a GW_MAP_INVALID with a column instead of a failed delivery. Reading uses the same
 * parser (src/scim/paths.ts) as PATCH and filters, so a path means the same thing everywhere.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.10
 */

/** Undefined when the path parses, else a message that says how to write it. */
export function scimPathProblem(path: string): string | undefined {
  try {
    parsePath(path);
    return undefined;
  } catch (err) {
    return `${(err as Error).message}; write a SCIM path such as userName, name.givenName, emails[type eq "work"].value or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`;
  }
}
