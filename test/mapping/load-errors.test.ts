import { describe, expect, it } from 'vitest';
import { loadMapping, loadMappingSource } from '../../src/mapping/load.js';
import { mappingIssues } from './mapping-issues.js';

/**
 * Load errors must point at the line and column to fix and say how. Sources are written line by
 * line so the expected positions can be counted by eye.
 */


const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;

const CREATE = '  create: { method: POST, path: /accounts, targetId: id }';

describe('mapping load errors', () => {
  it('reports a YAML syntax error at its position', () => {
    const [issue, ...rest] = mappingIssues(lines('version: 1', 'users:', '  fields:', '    login: [userName', CREATE));
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ file: 'bad.yaml', line: 5, path: '' });
    expect(issue?.message).toMatch(/^YAML /);
  });

  it('explains that JSONata with backticks must be quoted', () => {
    const [issue] = mappingIssues(lines('version: 1', 'users:', '  fields:', '    dept:', '      expr: `urn:x:User`.department', CREATE));
    expect(issue).toMatchObject({ line: 5, col: 13 });
    expect(issue?.message).toContain("expr: '...'");
  });

  it('names the unknown key, where it is, and the keys allowed there', () => {
    const issues = mappingIssues(lines('version: 1', 'users:', '  fields:', '    login:', '      form: userName', CREATE));
    expect(issues).toEqual([
      {
        file: 'bad.yaml',
        line: 5,
        col: 7,
        path: 'users.fields.login.form',
        message: 'unknown key "form" in a field rule; allowed keys: from, expr, value, fromGroups, ref, when, omitIfEmpty, type, map, default',
      },
    ]);
  });

  it('sends group-only calls to the groups section', () => {
    const issues = mappingIssues(lines('version: 1', 'users:', CREATE, '  addMember: { method: PUT, path: /x }'));
    expect(issues).toEqual([
      { file: 'bad.yaml', line: 4, col: 3, path: 'users.addMember', message: 'addMember is a group call; move it under groups:' },
    ]);
  });

  it('requires targetId on create and says what to write', () => {
    const issues = mappingIssues(lines('version: 1', 'users:', '  create:', '    method: POST', '    path: /accounts'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 3, col: 3, path: 'users.create.targetId' });
    expect(issues[0]?.message).toContain('`targetId` is required');
    expect(issues[0]?.message).toContain('header:location');
  });

  it('points a JSONata syntax error at the column inside a quoted expression', () => {
    const source = lines('version: 1', 'users:', '  fields:', '    name:', `      expr: '$join([name.givenName, name.familyName] " ")'`, CREATE);
    const [issue] = mappingIssues(source);
    expect(issue).toMatchObject({ line: 5, path: 'users.fields.name.expr' });
    expect(issue?.message).toMatch(/^JSONata S0202: Expected "\)", got " "/);
    // The offending token is the string literal " " right after the closing bracket.
    const row = source.split('\n')[4] ?? '';
    expect(row.slice((issue?.col ?? 0) - 3, issue?.col)).toBe('" "');
  });

  it('points a JSONata syntax error into a block scalar', () => {
    const source = lines('version: 1', 'users:', '  validate:', '    - detail: nope', '      expr: >-', '        $contains(', '          userName "@")', CREATE);
    const [issue] = mappingIssues(source);
    expect(issue).toMatchObject({ line: 7, path: 'users.validate.0.expr' });
    expect(issue?.message).toMatch(/^JSONata S0202/);
    const row = source.split('\n')[6] ?? '';
    expect(row.slice((issue?.col ?? 0) - 3, issue?.col)).toBe('"@"');
  });

  it('rejects a template that names an unknown field, at the placeholder', () => {
    const source = lines('version: 1', 'users:', '  fields:', '    login: userName', '  lookup:', '    method: GET', '    path: /accounts?login={fields.logon}', '    targetId: data[0].id', CREATE);
    expect(mappingIssues(source)).toEqual([
      {
        file: 'bad.yaml',
        line: 7,
        col: 27,
        path: 'users.lookup.path',
        message: 'unknown field "logon": {fields.logon} must name a key of users.fields (known: login)',
      },
    ]);
  });

  it('rejects {targetId} in create, where there is no id yet', () => {
    const [issue] = mappingIssues(lines('version: 1', 'users:', '  create: { method: POST, path: "/a/{targetId}", targetId: id }'));
    expect(issue).toMatchObject({ line: 3, col: 37, path: 'users.create.path' });
    expect(issue?.message).toContain('{targetId} is not known yet in create');
  });

  it('rejects a from path that does not parse', () => {
    const [issue] = mappingIssues(lines('version: 1', 'users:', '  fields:', '    email: "emails[type eq].value"', CREATE));
    expect(issue).toMatchObject({ line: 4, col: 13, path: 'users.fields.email' });
    expect(issue?.message).toContain('write a SCIM path such as');
  });

  it('requires deactivate and reactivate together', () => {
    const [issue] = mappingIssues(lines('version: 1', 'users:', CREATE, '  deactivate: { method: POST, path: "/a/{targetId}/off" }'));
    expect(issue).toMatchObject({ line: 2, col: 1, path: 'users' });
    expect(issue?.message).toContain('add `reactivate`');
  });

  it('rejects a field rule with two sources, and one with none', () => {
    const issues = mappingIssues(lines('version: 1', 'users:', '  fields:', '    a: { from: userName, value: x }', '    b: { default: x }', CREATE));
    expect(issues.map((issue) => [issue.line, issue.path])).toEqual([
      [4, 'users.fields.a'],
      [5, 'users.fields.b'],
    ]);
    expect(issues[0]?.message).toContain('exactly one source');
    expect(issues[1]?.message).toContain('needs one source');
  });

  it('rejects a bad targetId path and an unknown version', () => {
    expect(mappingIssues(lines('version: 2', 'users:', CREATE))[0]).toMatchObject({ line: 1, col: 1, path: 'version' });
    const [issue] = mappingIssues(lines('version: 1', 'users:', '  create: { method: POST, path: /a, targetId: "data..id" }'));
    expect(issue).toMatchObject({ line: 3, path: 'users.create.targetId' });
    expect(issue?.message).toContain('data[0].account_id');
  });

  it('formats the error message as file:line:col path: message lines', () => {
    try {
      loadMappingSource(lines('version: 1', 'users:', '  create: { method: GET, path: a, targetId: id }'), 'm.yaml');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toBe('m.yaml:3:26 users.create.path: path must start with "/" (it is appended to the target base URL)');
    }
  });

  it('reports an unreadable file as a load error', async () => {
    await expect(loadMapping('/nonexistent/mapping.yaml')).rejects.toMatchObject({
      code: 'GW_MAP_INVALID',
      issues: [{ file: '/nonexistent/mapping.yaml', line: 0, col: 0, path: '', message: 'cannot read the mapping file (ENOENT); check the path' }],
    });
  });
});
