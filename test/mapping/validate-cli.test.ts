import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../../src/cli/validate.js';

/** `scim-bridge validate` in process: output and exit codes 0 (ok), 1 (invalid), 2 (usage/IO). */

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s) } };
}

let dir: string;
const good = 'version: 1\nusers:\n  create: { method: POST, path: /a, targetId: id }\n';
const bad = 'version: 1\nusers:\n  create: { method: POST, path: /a }\n';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-validate-'));
  await mkdir(join(dir, 'ok'));
  await writeFile(join(dir, 'ok', 'a.yaml'), good);
  await writeFile(join(dir, 'ok', 'notes.txt'), 'not a mapping');
  await writeFile(join(dir, 'bad.yaml'), bad);
  await mkdir(join(dir, 'empty'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scim-bridge validate', () => {
  it('prints ok for every valid file of a directory and exits 0', async () => {
    const { out, io } = capture();
    expect(await runValidate([join(dir, 'ok'), 'mappings/sample-legacy.yaml'], io)).toBe(0);
    expect(out.stdout).toBe(`ok ${join(dir, 'ok', 'a.yaml')}\nok mappings/sample-legacy.yaml\n`);
  });

  it('prints file:line:col lines and exits 1 for an invalid file', async () => {
    const { out, io } = capture();
    expect(await runValidate([join(dir, 'bad.yaml')], io)).toBe(1);
    expect(out.stdout).toMatch(new RegExp(`^${join(dir, 'bad.yaml')}:3:3 users\\.create\\.targetId: \`targetId\` is required`));
    expect(out.stderr).toContain('GW_MAP_INVALID');
  });

  it('prints a JSON array of issues with --json', async () => {
    const { out, io } = capture();
    expect(await runValidate(['--json', join(dir, 'bad.yaml'), join(dir, 'ok')], io)).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual([
      expect.objectContaining({ code: 'GW_MAP_INVALID', file: join(dir, 'bad.yaml'), line: 3, col: 3, path: 'users.create.targetId' }),
    ]);
  });

  it('exits 2 on usage and I/O errors', async () => {
    for (const args of [[], ['--nope', 'x.yaml'], [join(dir, 'missing.yaml')], [join(dir, 'empty')]]) {
      const { out, io } = capture();
      expect(await runValidate(args, io), args.join(' ')).toBe(2);
      expect(out.stderr).not.toBe('');
    }
  });
});
