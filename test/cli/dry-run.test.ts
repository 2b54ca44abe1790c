import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIo } from './capture-io.js';

/**
 * `scim-bridge dry-run` in process, against mappings/sample-legacy.yaml: the exact calls each
 * SCIM request would cause on the sample legacy API, without network or Redis.
 */

const MAPPING = fileURLToPath(new URL('../../mappings/sample-legacy.yaml', import.meta.url));
/** The sample mapping accepts any userName; the Widgets CRM mapping has a `validate` rule. */
const CRM_MAPPING = fileURLToPath(new URL('../../mappings/widgets-crm.yaml', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const USER_STATE = fixture('user-state.json');
const USER_ID = '5b2f8c3e-1d4a-4c7b-9e0f-2a6d8b1c3e4f';
const OTHER_USER_ID = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';

async function dryRun(...args: string[]) {
  return dryRunWith(MAPPING, ...args);
}

async function dryRunWith(mapping: string, ...args: string[]) {
  const { io, out } = captureIo();
  const code = await main(['dry-run', '--mapping', mapping, ...args], io);
  return { code, ...out };
}

/** Runs with --json and returns the parsed calls. */
async function dryRunJson(...args: string[]): Promise<{ method: string; path: string; headers: Record<string, string>; body?: unknown }[]> {
  const result = await dryRun(...args, '--json');
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

describe('scim-bridge dry-run', () => {
  it('prints the lookup and the create with the exact mapped body for POST /Users', async () => {
    const result = await dryRun('--request', fixture('post-user.json'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      [
        'GET /api/v1/accounts?login=Ada.Lovelace%40contoso.example',
        '',
        'POST /api/v1/accounts',
        JSON.stringify(
          {
            login: 'Ada.Lovelace@contoso.example',
            email: 'ada@contoso.example',
            first_name: 'Ada',
            last_name: 'Lovelace',
            department: 'Analytical Engines',
            display_name: 'Ada Lovelace',
          },
          null,
          2,
        ),
        '',
        "(plus the connection's target auth header on every call)",
        '',
      ].join('\n'),
    );
  });

  it('prints valid JSON with --json', async () => {
    const calls = await dryRunJson('--request', fixture('post-user.json'));
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /api/v1/accounts?login=Ada.Lovelace%40contoso.example', 'POST /api/v1/accounts']);
    expect(calls[1]?.body).toMatchObject({ login: 'Ada.Lovelace@contoso.example', last_name: 'Lovelace' });
  });

  it('prints the update for a PATCH that changes mapped fields', async () => {
    const calls = await dryRunJson('--request', fixture('patch-user-rename.json'), '--state', USER_STATE);
    expect(calls).toEqual([
      {
        method: 'PUT',
        path: '/api/v1/accounts/TARGET_ID',
        headers: {},
        body: {
          login: 'Ada.Lovelace@contoso.example',
          email: 'ada@contoso.example',
          first_name: 'Ada',
          last_name: 'King',
          department: 'Mathematics',
          display_name: 'Ada King',
        },
      },
    ]);
  });

  it('prints only the deactivate call for a PATCH that changes only active (Entra\'s "False" string)', async () => {
    const calls = await dryRunJson('--request', fixture('patch-user-disable.json'), '--state', USER_STATE);
    expect(calls).toEqual([{ method: 'POST', path: '/api/v1/accounts/TARGET_ID/disable', headers: {} }]);
  });

  it('prints no call for a PATCH that changes only unmapped attributes', async () => {
    const result = await dryRun('--request', fixture('patch-user-unmapped.json'), '--state', USER_STATE);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('no calls: nothing the mapping delivers changes\n');
    expect(await dryRunJson('--request', fixture('patch-user-unmapped.json'), '--state', USER_STATE)).toEqual([]);
  });

  it('prints the delete for DELETE /Users/{id}', async () => {
    const calls = await dryRunJson('--request', fixture('delete-user.json'), '--state', USER_STATE);
    expect(calls).toEqual([{ method: 'DELETE', path: '/api/v1/accounts/TARGET_ID', headers: {} }]);
  });

  it('prints the create and one addMember per member, with member placeholders, for POST /Groups', async () => {
    const calls = await dryRunJson('--request', fixture('post-group.json'));
    expect(calls).toEqual([
      { method: 'POST', path: '/api/v1/teams', headers: {}, body: { name: 'Engines', external_ref: '8f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f' } },
      { method: 'PUT', path: `/api/v1/teams/TARGET_ID/members/TARGET_ID_OF_${USER_ID}`, headers: {} },
      { method: 'PUT', path: `/api/v1/teams/TARGET_ID/members/TARGET_ID_OF_${OTHER_USER_ID}`, headers: {} },
    ]);
  });

  it.each([
    ['POST', ['--request', fixture('post-user-bad-email.json')]],
    ['PATCH', ['--request', fixture('patch-user-bad-email.json'), '--state', USER_STATE]],
  ])('exits 1 with the SCIM 400 body when a %s breaks a validate rule', async (_method, args) => {
    const result = await dryRunWith(CRM_MAPPING, ...args);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const body = /the bridge would answer 400: (.*)\n$/.exec(result.stderr)?.[1];
    expect(body, result.stderr).toBeDefined();
    expect(JSON.parse(body!)).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidValue',
      detail: 'the work email must be an email address (Widgets CRM rejects it otherwise)',
    });
  });

  it.each([
    ['no --request', []],
    ['an unknown option', ['--request', fixture('post-user.json'), '--nope']],
    ['a stray positional', ['--request', fixture('post-user.json'), 'extra']],
    ['a PATCH without --state', ['--request', fixture('patch-user-rename.json')]],
    ['a missing request file', ['--request', fixture('missing.json')]],
  ])('exits 2 with a message on stderr for %s', async (_case, args) => {
    const result = await dryRun(...args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toBe('');
  });

  it('exits 2 without --mapping', async () => {
    const { io, out } = captureIo();
    expect(await main(['dry-run', '--request', fixture('post-user.json')], io)).toBe(2);
    expect(out.stderr).toMatch(/^Usage: scim-bridge dry-run/);
  });
});
