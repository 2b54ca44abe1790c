import { describe, expect, it } from 'vitest';
import { prefixHasHashTag } from '../../src/lib/redis-keys.js';

describe('prefixHasHashTag', () => {
  it('is true only when every key under the prefix has the same non-empty Cluster hash tag', () => {
    expect(prefixHasHashTag('scim-bridge:c:{acme}')).toBe(true);
    expect(prefixHasHashTag('scim-bridge:{bull}:x')).toBe(true);
    // Redis hashes the first {…} with something in it; an empty {} hashes the whole key.
    expect(prefixHasHashTag('scim-bridge:{}:c')).toBe(false);
    expect(prefixHasHashTag('scim-bridge:c:{acme')).toBe(false);
    expect(prefixHasHashTag('scim-bridge:c:acme}')).toBe(false);
    expect(prefixHasHashTag('scim-bridge:c:acme')).toBe(false);
  });
});
