import { describe, expect, it } from 'vitest';
import { createFailureThrottle } from '../../src/auth/failure-throttle.js';

describe('createFailureThrottle', () => {
  it('blocks a key after max failures until its window ends, and counts keys apart', () => {
    let now = 1_000;
    const throttle = createFailureThrottle({ max: 2, windowMs: 10_000, now: () => now });
    expect(throttle.blockedForMs('a')).toBe(0);
    throttle.fail('a');
    expect(throttle.blockedForMs('a')).toBe(0);
    throttle.fail('a');
    expect(throttle.blockedForMs('a')).toBe(10_000);
    expect(throttle.blockedForMs('b')).toBe(0);
    now += 9_999;
    expect(throttle.blockedForMs('a')).toBe(1);
    now += 1;
    expect(throttle.blockedForMs('a')).toBe(0);
    throttle.fail('a');
    expect(throttle.blockedForMs('a')).toBe(0);
  });

  it('keeps at most maxKeys keys, dropping the oldest', () => {
    const throttle = createFailureThrottle({ max: 1, windowMs: 10_000, maxKeys: 2, now: () => 0 });
    throttle.fail('a');
    throttle.fail('b');
    throttle.fail('c');
    expect(throttle.blockedForMs('a')).toBe(0);
    expect(throttle.blockedForMs('b')).toBeGreaterThan(0);
    expect(throttle.blockedForMs('c')).toBeGreaterThan(0);
  });
});
