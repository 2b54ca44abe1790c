import { describe, expect, it } from 'vitest';
import { mappingIssues } from './mapping-issues.js';

/** Load errors of the v2 constructs: each names the key to fix and how. */


const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

describe('mapping v2 load errors', () => {
  it('a captured value no earlier call captures', () => {
    const [issue] = mappingIssues(
      lines(
        'version: 1',
        'users:',
        '  create:',
        '    - { method: POST, path: /a, targetId: id, capture: { uid: id } }',
        '    - { method: PUT, path: "/b/{captured.nope}" }',
      ),
    );
    expect(issue).toMatchObject({ line: 5, path: 'users.create.1.path' });
    expect(issue?.message).toContain('{captured.nope} is not captured by an earlier call of users.create');
    expect(issue?.message).toContain('captured so far: uid');
  });

  it('{targetId} before the call that reads it, a create list without any targetId, exists without lookup', () => {
    expect(mappingIssues(lines('version: 1', 'users:', '  create:', '    - { method: POST, path: "/a/{targetId}" }', '    - { method: POST, path: /b, targetId: id }'))[0]?.message).toMatch(
      /^\{targetId\} is not known yet in create/,
    );
    expect(mappingIssues(lines('version: 1', 'users:', '  create:', '    - { method: POST, path: /a }'))[0]?.message).toMatch(/^`targetId` is required/);
    expect(
      mappingIssues(lines('version: 1', 'users:', '  create: { method: POST, path: /a, targetId: id, on: [{ status: 409, means: exists }] }'))[0]?.message,
    ).toContain('add a `lookup:` call');
  });

  it('fromGroups under groups:, two sources, means exists outside create', () => {
    expect(
      mappingIssues(lines('version: 1', 'groups:', '  fields:', '    r: { fromGroups: { table: [{ groups: [A], value: 1 }] } }', '  create: { method: POST, path: /g, targetId: id }'))[0]
        ?.message,
    ).toContain('use them under users:');
    expect(mappingIssues(lines('version: 1', 'users:', '  fields:', '    r: { from: a, fromGroups: { table: [{ groups: [A], value: 1 }] } }', '  create: { method: POST, path: /g, targetId: id }'))[0]?.message).toContain(
      'exactly one source',
    );
    expect(
      mappingIssues(lines('version: 1', 'users:', '  create: { method: POST, path: /g, targetId: id }', '  update: { method: PUT, path: "/g/{targetId}", on: [{ status: 409, means: exists }] }'))[0]
        ?.message,
    ).toContain('only for create calls');
  });
});
