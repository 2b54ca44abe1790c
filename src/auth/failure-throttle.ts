/**
 * A fixed-window count of failed logins per key (e.g. source address and user name), in process:
 * once a key failed `max` times within `windowMs`, it is blocked until its window ends. Only
 * failures count. At most `maxKeys` keys are kept; the oldest go first, so a flood of distinct
 * keys costs bounded memory.
 */

export interface FailureThrottle {
  /** Milliseconds the key is still blocked for; 0 when it may try. */
  blockedForMs(key: string): number;
  /** Counts one failure of the key. */
  fail(key: string): void;
}

export interface FailureThrottleOptions {
  max: number;
  windowMs: number;
  maxKeys?: number;
  now?: () => number;
}

export function createFailureThrottle({ max, windowMs, maxKeys = 10_000, now = Date.now }: FailureThrottleOptions): FailureThrottle {
  const windows = new Map<string, { count: number; startedAt: number }>();
  const live = (key: string) => {
    const entry = windows.get(key);
    if (entry && now() - entry.startedAt >= windowMs) {
      windows.delete(key);
      return undefined;
    }
    return entry;
  };
  return {
    blockedForMs(key) {
      const entry = live(key);
      return entry && entry.count >= max ? Math.max(1, entry.startedAt + windowMs - now()) : 0;
    },
    fail(key) {
      const entry = live(key);
      if (entry) {
        entry.count += 1;
        return;
      }
      if (windows.size >= maxKeys) windows.delete(windows.keys().next().value!);
      windows.set(key, { count: 1, startedAt: now() });
    },
  };
}
