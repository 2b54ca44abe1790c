import { writeFile } from 'node:fs/promises';
import type { Io } from './main.js';

/**
 * `scim-bridge init [FILE]`: writes a commented starter mapping (default `mappings/my-app.yaml`,
 * never over an existing file; `-` prints it). It loads as is, so `validate` and `dry-run` work
 * on it from the first minute; the comments say what to change.
 */

export const STARTER_MAPPING = `# yaml-language-server: $schema=./mapping.schema.json
#
# Starter mapping written by \`scim-bridge init\`. It maps Entra users and groups onto a REST API
# with /users and /groups endpoints; change the paths, field names and targetId to your API's.
# Every key is explained in docs/mapping.md. Check your changes with:
#   scim-bridge validate <this file>
#   scim-bridge explain <this file>
#   scim-bridge dry-run --mapping <this file> --request post-user.json
version: 1

users:
  # Target field name (dots nest: profile.first_name) <- SCIM attribute.
  fields:
    login: userName
    email:
      from: 'emails[type eq "work"].value'
      default: null               # null clears the value on a full-replace PUT
    first_name: name.givenName
    last_name: name.familyName
    active: active
    # The manager, sent as the manager's id in your API (delivery waits until it has one):
    # manager_id:
    #   from: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value'
    #   ref: User
    #   default: null
    # A role from Entra group membership (first row that matches wins):
    # role:
    #   fromGroups:
    #     table:
    #       - { groups: [App Admins], value: admin }
    #   default: user

  # Reject input your API would refuse, so Entra shows a clear error at once.
  # validate:
  #   - expr: '$contains(userName, "@")'
  #     detail: userName must be an email address

  # Finds an existing account before creating one (no duplicates after a timeout).
  lookup:
    method: GET
    path: /users?login={fields.login}
    targetId: '[0].id'            # where the id is in the answer; an empty list = not found

  create:
    method: POST
    path: /users
    targetId: id                  # or data.id, or header:location
    # on:
    #   - { status: 409, means: exists }   # "already exists": look it up and link it

  update:
    method: PUT
    path: /users/{targetId}

  delete:
    method: DELETE
    path: /users/{targetId}

# Remove this section if your API has no groups (groups are then stored, not delivered).
groups:
  fields:
    name: displayName
  create:
    method: POST
    path: /groups
    targetId: id
  update:
    method: PUT
    path: /groups/{targetId}
  delete:
    method: DELETE
    path: /groups/{targetId}
  addMember:
    method: POST
    path: /groups/{targetId}/members
    body:
      user_id: '{member.targetId}'
  removeMember:
    method: DELETE
    path: /groups/{targetId}/members/{member.targetId}
`;

export async function runInit(args: string[], io: Io): Promise<number> {
  if (args.length > 1 || (args[0]?.startsWith('-') && args[0] !== '-')) {
    io.stderr('Usage: scim-bridge init [FILE | -]   (default mappings/my-app.yaml)\n');
    return 2;
  }
  const file = args[0] ?? 'mappings/my-app.yaml';
  if (file === '-') {
    io.stdout(STARTER_MAPPING);
    return 0;
  }
  try {
    await writeFile(file, STARTER_MAPPING, { flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    io.stderr(`scim-bridge init: cannot write ${file} (${code === 'EEXIST' ? 'it exists; choose another name' : code})\n`);
    return 2;
  }
  io.stdout(`wrote ${file}: edit it, then run scim-bridge validate ${file}\n`);
  return 0;
}
