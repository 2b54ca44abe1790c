import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Hex, verifyPassword } from '../../src/auth/secret-hash.js';
import { runHashPassword } from '../../src/cli/hash-password.js';
import { ConfigError, loadConfigSource } from '../../src/config/load.js';
import { captureIo } from '../cli/capture-io.js';

const FILE = '/etc/scim-bridge/bridge.yaml';
const withAdmin = (admin: string) => `
connections:
  - id: acme
    auth: { bearer: ["\${env:SECRET}"] }
    target: { baseUrl: http://127.0.0.1:1234 }
    mapping: app.yaml
admin:
${admin}`;
const env = { SECRET: 's1', ADMIN_PASSWORD: 'pw-from-env', ADMIN_TOKEN: 'token-from-env' };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).code;
  }
  throw new Error('expected a ConfigError');
}

describe('admin config', () => {
  it('keeps only hashes of passwords and tokens from the environment', async () => {
    const config = loadConfigSource(withAdmin('  username: ops\n  password: ${env:ADMIN_PASSWORD}\n  tokens: ["${env:ADMIN_TOKEN}"]'), FILE, { env });
    expect(config.admin).toMatchObject({ username: 'ops', tokenHashes: [sha256Hex('token-from-env')], allow: { retry: false, clean: false, promote: false } });
    expect(JSON.stringify(config)).not.toContain('pw-from-env');
    expect(JSON.stringify(config)).not.toContain('token-from-env');
    await expect(verifyPassword('pw-from-env', config.admin!.passwordHash!)).resolves.toBe(true);
  });

  it('accepts a literal scrypt hash and token digest, refuses a literal password or token', () => {
    const hash = 'scrypt$1024$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5';
    const config = loadConfigSource(withAdmin(`  username: ops\n  passwordHash: "${hash}"\n  tokenHashes: ["${sha256Hex('t')}"]`), FILE, { env });
    expect(config.admin?.passwordHash).toBe(hash);
    expect(codeOf(() => loadConfigSource(withAdmin('  username: ops\n  password: hunter2'), FILE, { env }))).toBe('GW_CONFIG_LITERAL_SECRET');
    expect(codeOf(() => loadConfigSource(withAdmin('  tokens: [abc]'), FILE, { env }))).toBe('GW_CONFIG_LITERAL_SECRET');
  });

  it('refuses incomplete or contradictory credentials', () => {
    for (const admin of ['  username: ops', '  password: ${env:ADMIN_PASSWORD}', '  allow: { retry: true }', '  passwordHash: "md5$x"\n  username: ops']) {
      expect(codeOf(() => loadConfigSource(withAdmin(admin), FILE, { env }))).toBe('GW_CONFIG_INVALID');
    }
  });

  it('hash-password prints a usable hash, or a token digest, from stdin', async () => {
    const { io, out } = captureIo();
    expect(await runHashPassword([], io, Readable.from(['s3cret\n']))).toBe(0);
    await expect(verifyPassword('s3cret', out.stdout.trim())).resolves.toBe(true);
    const token = captureIo();
    expect(await runHashPassword(['--token'], token.io, Readable.from(['tok']))).toBe(0);
    expect(token.out.stdout).toBe(`${sha256Hex('tok')}\n`);
    expect(await runHashPassword([], captureIo().io, Readable.from(['']))).toBe(2);
  });
});
