import { expect } from 'vitest';

/**
 * Polls `check` until it gives something other than undefined or false, and returns that;
 * throws naming `what` after `timeoutMs`. For tests that wait on another process, a queue or a
 * loopback server: synchronisation by observing the state, never by sleeping a fixed time.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Repeats a request until it answers `status` (e.g. while a cache of secrets catches up); fails otherwise. */
export async function eventuallyStatus(probe: () => Promise<{ status: number }>, status: number, timeoutMs = 20_000): Promise<void> {
  let last = 0;
  await waitFor(
    async () => {
      last = (await probe()).status;
      return last === status;
    },
    `status ${status}`,
    timeoutMs,
    50,
  ).catch(() => undefined);
  expect(last).toBe(status);
}
