import { afterAll, describe, expect, it } from 'vitest';
import { breakerSchema } from '../../src/config/schema.js';
import { createConnectionGate, readGateStatus } from '../../src/delivery/connection-gate.js';
import { createTestRedis } from '../helpers/redis.js';
import { waitFor } from './connection-harness.js';

/**
 * The gate's own bookkeeping on real Redis, with two gate instances on the same keys standing in
 * for two worker processes: what one records reaches the other within `syncMs`, successes are
 * counted in batches, and a process knows its own pauses at once.
 */
const r = createTestRedis('gate');
afterAll(() => r.cleanup());

const breaker = breakerSchema.parse({ consecutiveFailures: 3, minCalls: 1000 });

/** A clock the tests move by hand: what the gate trusts for syncMs depends on nothing else. */
let clock = Date.now();

function gates(name: string, syncMs: number) {
  const prefix = `${r.prefix}:${name}`;
  const options = { prefix, breaker, probeTtlMs: 5_000, syncMs, now: () => clock };
  return { a: createConnectionGate(r.redis, options), b: createConnectionGate(r.redis, options), breakerKey: `${prefix}:gate:breaker` };
}

describe('connection gate with syncMs', () => {
  it('holds this process at once and another process within syncMs after a pause', async () => {
    const { a, b } = gates('pause', 100);
    expect(await a.admit()).toEqual({ kind: 'go' });
    expect(await b.admit()).toEqual({ kind: 'go' });
    await a.pause(5_000);
    expect((await a.admit()).kind).toBe('paused');
    // Within syncMs, b still trusts its "go"; once it has passed, b asks Redis and sees the pause.
    expect(await b.admit()).toEqual({ kind: 'go' });
    clock += 150;
    const seen = await b.admit();
    expect(seen.kind).toBe('paused');
  });

  it('asks Redis before every call with syncMs 0', async () => {
    const { a, b } = gates('strict', 0);
    expect(await b.admit()).toEqual({ kind: 'go' });
    await a.pause(5_000);
    expect((await b.admit()).kind).toBe('paused');
  });

  it('counts successes in batches, before a failure of the same process', async () => {
    const { a, breakerKey } = gates('batch', 60_000);
    for (let i = 0; i < 5; i++) await a.record('ok');
    expect(await r.redis.hget(breakerKey, 'wtotal')).toBeNull();
    await a.record('failed');
    expect(await r.redis.hmget(breakerKey, 'wtotal', 'wfails', 'fails')).toEqual(['6', '1', '1']);
  });

  it('flushes batched successes after syncMs, resetting the consecutive failures', async () => {
    const { a, b, breakerKey } = gates('flush', 50);
    await b.record('failed');
    await b.record('failed');
    expect(await r.redis.hget(breakerKey, 'fails')).toBe('2');
    await a.record('ok');
    expect(await waitFor(async () => {
      const counts = await r.redis.hmget(breakerKey, 'wtotal', 'fails');
      return counts[0] === '3' ? counts : undefined;
    }, 'the batched success to be flushed')).toEqual(['3', '0']);
    // So the next failure is the first in a row again: the breaker stays closed.
    expect((await b.record('failed')).change).toBeUndefined();
  });

  it('opens the breaker after consecutive failures and pauses the process that saw them at once', async () => {
    const { a } = gates('open', 1_000);
    expect(await a.admit()).toEqual({ kind: 'go' });
    await a.record('failed');
    await a.record('failed');
    expect((await a.record('failed')).change).toBe('opened');
    expect(await a.admit()).toMatchObject({ kind: 'paused', reason: 'breaker' });
  });
});

describe('readGateStatus', () => {
  it('shows a closed breaker, then a pause with its reason and end, then an open breaker', async () => {
    const { a } = gates('status', 0);
    const prefix = `${r.prefix}:status`;
    expect(await readGateStatus(r.redis, prefix)).toEqual({ breaker: 'closed' });
    await a.pause(5_000);
    const paused = await readGateStatus(r.redis, prefix);
    expect(paused.pause?.reason).toBe('rate-limit');
    expect(Date.parse(paused.pause!.until)).toBeGreaterThan(Date.now());
    for (let i = 0; i < 3; i++) await a.record('failed');
    const open = await readGateStatus(r.redis, prefix);
    expect(open.breaker).toBe('open');
  });
});
