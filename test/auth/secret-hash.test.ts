import { describe, expect, it } from 'vitest';
import { createPasswordVerifier, digestEquals, hashPassword, isPasswordHash, sha256Hex, verifyPassword } from '../../src/auth/secret-hash.js';

// Low cost parameters keep the test fast; the format and checks are the same.
const CHEAP = { N: 1024, r: 8, p: 1 };

describe('password hashes', () => {
  it('verifies the right password and refuses others', async () => {
    const hash = hashPassword('correct horse', CHEAP);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(isPasswordHash(hash)).toBe(true);
    await expect(verifyPassword('correct horse', hash)).resolves.toBe(true);
    await expect(verifyPassword('correct horsf', hash)).resolves.toBe(false);
    await expect(verifyPassword('', hash)).resolves.toBe(false);
  });

  it('salts every hash', () => {
    expect(hashPassword('same', CHEAP)).not.toBe(hashPassword('same', CHEAP));
  });

  it('treats malformed hashes as a mismatch, never a throw', async () => {
    for (const bad of ['', 'scrypt$', 'scrypt$1000$8$1$abc$def', 'scrypt$1024$8$1$$', 'bcrypt$x', `scrypt$${2 ** 30}$8$1$abcd$abcdabcdabcdabcdabcdabcd`]) {
      expect(isPasswordHash(bad)).toBe(false);
      await expect(verifyPassword('x', bad)).resolves.toBe(false);
    }
  });

  it('caches successful checks only', async () => {
    const hash = hashPassword('pw', CHEAP);
    const verify = createPasswordVerifier({ maxEntries: 2 });
    expect(await verify('pw', hash)).toBe(true);
    expect(await verify('pw', hash)).toBe(true);
    expect(await verify('nope', hash)).toBe(false);
    expect(await verify('nope', hash)).toBe(false);
  });
});

describe('token digests', () => {
  it('compares SHA-256 hex digests', () => {
    const digest = sha256Hex('token-1');
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digestEquals(digest, sha256Hex('token-1'))).toBe(true);
    expect(digestEquals(digest, sha256Hex('token-2'))).toBe(false);
    expect(digestEquals(digest, digest.slice(0, 10))).toBe(false);
    expect(digestEquals('', '')).toBe(false);
  });
});
