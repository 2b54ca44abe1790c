import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented credential with the expected one in constant time. Both sides are hashed
 * first so that `timingSafeEqual` gets equal lengths and the comparison leaks neither the
 * content nor the length of the secret.
 * @see https://nodejs.org/api/crypto.html#cryptotimingsafeequala-b
 */
export function secretsMatch(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
