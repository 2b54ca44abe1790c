import { hash, randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * How the bridge stores secrets it verifies. Human passwords get scrypt (slow on purpose, salted);
 * generated high-entropy tokens get SHA-256, which is enough when guessing is hopeless anyway.
 * Every comparison is constant-time over equal-length digests.
 *
 * A password hash is `scrypt$<N>$<r>$<p>$<salt>$<key>` (salt and key base64url), so the cost
 * parameters travel with the hash and can be raised later without breaking old hashes.
 * @see https://nodejs.org/api/crypto.html#cryptoscryptpassword-salt-keylen-options-callback
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#scrypt
 */

/** OWASP's minimum for scrypt: N=2^17 costs 128 MiB, so 2^15 with r=8 (32 MiB) keeps memory sane. */
const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;
const PREFIX = 'scrypt$';

/** True when the value looks like a hash made by {@link hashPassword}. */
export function isPasswordHash(value: string): boolean {
  return parseHash(value) !== undefined;
}

/** A new scrypt hash of `password` with a random salt (synchronous: config load, CLI). */
export function hashPassword(password: string, cost: { N: number; r: number; p: number } = DEFAULT_COST): string {
  const salt = randomBytes(SALT_BYTES);
  const key = scryptSync(password, salt, KEY_LENGTH, { ...cost, maxmem: maxmem(cost) });
  return [`scrypt`, cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `encoded`; false (never a throw) for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed) return false;
  const key = await scryptAsync(password, parsed.salt, parsed.key.length, parsed.options);
  return timingSafeEqual(key, parsed.key);
}

/**
 * {@link verifyPassword} that remembers successful checks for this process, so a dashboard
 * polling every few seconds does not pay scrypt on each request. Only SHA-256 digests of
 * (hash, password) pairs are kept, never the password; failures are never cached.
 */
export function createPasswordVerifier(options: { maxEntries?: number } = {}): (password: string, encoded: string) => Promise<boolean> {
  const maxEntries = options.maxEntries ?? 64;
  const verified = new Set<string>();
  return async (password, encoded) => {
    const entry = sha256Hex(`${encoded}\u0000${password}`);
    if (verified.has(entry)) return true;
    if (!(await verifyPassword(password, encoded))) return false;
    if (verified.size >= maxEntries) verified.delete(verified.values().next().value as string);
    verified.add(entry);
    return true;
  };
}

/** Lower-case hex SHA-256 of a token, the form `tokenHashes` are configured in. */
export function sha256Hex(value: string): string {
  // One-shot hash(): about a third of createHash()'s cost for a short value (one per SCIM request).
  return hash('sha256', value, 'hex');
}

/** Constant-time equality of two hex digests (false when lengths differ). */
export function digestEquals(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/**
 * Generated secrets Entra presents (bearer tokens, OAuth client secrets) are stored as
 * `sha256:<64 hex>`: they carry 256 bits of entropy, so one SHA-256 is enough and a check
 * costs microseconds per request.
 */
export type SecretHash = `sha256:${string}`;

const SECRET_HASH_FORMAT = /^sha256:[0-9a-f]{64}$/;

/** A new random secret (32 bytes, base64url): 43 characters, 256 bits of entropy. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A short random id (hex), to name a secret in listings and logs without revealing it. */
export function generateId(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

export function hashSecret(secret: string): SecretHash {
  return `sha256:${sha256Hex(secret)}`;
}

export function isSecretHash(value: string): value is SecretHash {
  return SECRET_HASH_FORMAT.test(value);
}

/**
 * A config entry as a hash: `sha256:…` entries (any letter case) are taken as they are,
 * anything else is a plaintext secret (from `${env:…}` or `${file:…}`) and is hashed here, so
 * the plaintext is not kept in the frozen config.
 */
export function toSecretHash(entry: string): SecretHash {
  const lower = entry.toLowerCase();
  return isSecretHash(lower) ? lower : hashSecret(entry);
}

/** True when `secret` hashes to `hash`, compared in constant time. */
export function verifySecret(secret: string, hash: SecretHash): boolean {
  return digestEquals(sha256Hex(secret), hash.slice('sha256:'.length));
}

/**
 * True when `secret` matches any of `hashes`. Every hash is compared (no early exit), so the
 * position of a match does not show in the timing.
 */
export function verifyAny(secret: string, hashes: readonly SecretHash[]): boolean {
  const presented = sha256Hex(secret);
  let matched = false;
  for (const hash of hashes) matched = digestEquals(presented, hash.slice('sha256:'.length)) || matched;
  return matched;
}

interface ParsedHash {
  options: ScryptOptions;
  salt: Buffer;
  key: Buffer;
}

function parseHash(encoded: string): ParsedHash | undefined {
  if (!encoded.startsWith(PREFIX)) return undefined;
  const [, n, r, p, salt, key] = encoded.split('$');
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  const valid =
    Number.isInteger(cost.N) && cost.N > 1 && (cost.N & (cost.N - 1)) === 0 && cost.N <= 2 ** 20 &&
    Number.isInteger(cost.r) && cost.r >= 1 && cost.r <= 32 &&
    Number.isInteger(cost.p) && cost.p >= 1 && cost.p <= 16 &&
    salt !== undefined && salt.length > 0 && key !== undefined && key.length > 0;
  if (!valid) return undefined;
  const keyBytes = Buffer.from(key, 'base64url');
  if (keyBytes.length < 16) return undefined;
  return { options: { ...cost, maxmem: maxmem(cost) }, salt: Buffer.from(salt, 'base64url'), key: keyBytes };
}

/** scrypt needs about 128·N·r bytes; Node's default ceiling (32 MiB) is just too small for N=2^15. */
function maxmem(cost: { N: number; r: number; p: number }): number {
  return 256 * cost.N * cost.r + 1024 * 1024;
}

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
