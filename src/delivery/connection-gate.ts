import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { BreakerConfig } from '../config/schema.js';
import { BridgeError } from '../lib/errors.js';

/**
 * One gate per connection, in Redis so every worker process of the connection sees it, checked
 * before every target call (not only before a job starts):
 *
 * - **Pause**: a 429 (or a 503 with Retry-After) pauses every call of the connection, including
 *   those of jobs already running, until the pause ends (`<p>:gate:pause`, SET PX).
 * - **Circuit breaker**: `consecutiveFailures` transient failures in a row, or an error rate of
 *   `errorRate` over `windowMs` (with at least `minCalls` calls), open it. Open means paused for
 *   `cooldownMs`; then exactly one call (the probe, `<p>:gate:probe`, SET NX PX) may go. A probe
 *   that works closes the breaker; a probe that fails re-opens it for twice the cooldown, up to
 *   `maxCooldownMs`. Only transient failures count (5xx, timeouts, unreachable): a 4xx means
 *   the target is up.
 *
 * Round trips: a worker process that has just heard "go" from Redis trusts it for `syncMs`, and
 * counts successful calls locally, sending them with its next failure or after `syncMs`. So on
 * a healthy target the gate costs about two round trips per `syncMs` per process instead of two
 * per call, and what another process records reaches this one within `syncMs` (what this
 * process records, it knows at once). `syncMs: 0` asks Redis before and after every call.
 *
 * A paused call throws {@link PausedError}; the processor hands its job back to the queue with
 * `queue.rateLimit`, so no attempt is used up and the worker takes no new job meanwhile.
 * @see https://martinfowler.com/bliki/CircuitBreaker.html
 * @see https://docs.bullmq.io/guide/rate-limiting#manual-rate-limit
 */

export type Admission = { kind: 'go' } | { kind: 'probe'; token: string } | { kind: 'paused'; delayMs: number; reason: PauseReason };

export type PauseReason = 'rate-limit' | 'breaker';

/** How a finished call counts for the breaker. */
export type CallResult = 'ok' | 'failed' | 'neutral';

export type BreakerChange = 'opened' | 'reopened' | 'closed' | undefined;

export interface ConnectionGate {
  admit(): Promise<Admission>;
  /** Records a call's result; says when the breaker changed state, and the new pause. */
  record(result: CallResult, probeToken?: string): Promise<{ change: BreakerChange; pauseMs: number }>;
  /** Pauses every call of the connection for `ms` (never shortens a longer pause). */
  pause(ms: number, reason?: PauseReason): Promise<void>;
}

/** Thrown instead of making a call while the connection is paused. */
export class PausedError extends BridgeError {
  override readonly name = 'PausedError';
  constructor(
    readonly delayMs: number,
    readonly reason: PauseReason,
  ) {
    super('GW_DELIVERY_PAUSED', `${reason === 'breaker' ? 'circuit breaker open' : 'target asked to slow down'}, calls paused for ${delayMs} ms`);
  }
}

/** While a probe runs, other calls look again this often. */
const PROBE_WAIT_MS = 1_000;

/** KEYS: pause, breaker, probe. ARGV: probe token, probe ttl. */
const ADMIT = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then return {'paused', ttl, redis.call('GET', KEYS[1]) or 'rate-limit'} end
if redis.call('HGET', KEYS[2], 'state') == 'open' then
  if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'probe', 0, ''} end
  return {'paused', math.max(100, math.min(redis.call('PTTL', KEYS[3]), ${PROBE_WAIT_MS})), 'breaker'}
end
return {'go', 0, ''}
`;

/**
 * KEYS: pause, breaker, probe. ARGV: result, probe token, consecutive, rate, minCalls, windowMs,
 * cooldownMs, maxCooldownMs, earlier successes (counted before this result; batched by the
 * caller). Returns {change, pauseMs}.
 */
const RECORD = `
local B = KEYS[2]
local result, token = ARGV[1], ARGV[2]
local consecutive, rate, min_calls, window = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local base, max_cooldown = tonumber(ARGV[7]), tonumber(ARGV[8])
local earlier_ok = tonumber(ARGV[9] or '0')
local is_probe = token ~= '' and redis.call('GET', KEYS[3]) == token
if is_probe then redis.call('DEL', KEYS[3]) end
if result == 'neutral' then return {'', 0} end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now - tonumber(redis.call('HGET', B, 'wstart') or '0') > window then
  redis.call('HSET', B, 'wstart', now, 'wtotal', 0, 'wfails', 0)
end
if earlier_ok > 0 then
  redis.call('HINCRBY', B, 'wtotal', earlier_ok)
  redis.call('HSET', B, 'fails', 0)
end
if result == 'none' then return {'', 0} end
local total = redis.call('HINCRBY', B, 'wtotal', 1)
local open = redis.call('HGET', B, 'state') == 'open'

local function pause(ms)
  if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], 'breaker', 'PX', ms) end
end

if result == 'ok' then
  redis.call('HSET', B, 'fails', 0)
  if open and is_probe then
    redis.call('HSET', B, 'state', 'closed', 'cooldown', 0, 'wstart', now, 'wtotal', 0, 'wfails', 0)
    return {'closed', 0}
  end
  return {'', 0}
end

local fails = redis.call('HINCRBY', B, 'fails', 1)
local failed = redis.call('HINCRBY', B, 'wfails', 1)
if open then
  if not is_probe then return {'', 0} end
  local cooldown = math.min(max_cooldown, math.max(base, 2 * tonumber(redis.call('HGET', B, 'cooldown') or base)))
  redis.call('HSET', B, 'cooldown', cooldown)
  pause(cooldown)
  return {'reopened', cooldown}
end
if fails >= consecutive or (total >= min_calls and failed / total >= rate) then
  redis.call('HSET', B, 'state', 'open', 'cooldown', base)
  pause(base)
  return {'opened', base}
end
return {'', 0}
`;

/** KEYS: pause. ARGV: ms, reason. */
const PAUSE = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1]) end
return 1
`;

type GateCommands = {
  bridgeGateAdmit(pause: string, breaker: string, probe: string, token: string, probeTtlMs: number): Promise<[string, number, string]>;
  bridgeGateRecord(pause: string, breaker: string, probe: string, ...args: Array<string | number>): Promise<[string, number]>;
  bridgeGatePause(pause: string, ms: number, reason: string): Promise<number>;
};

export interface ConnectionGateOptions {
  /** Key prefix of the connection (its store prefix); keys are `<prefix>:gate:…`. */
  prefix: string;
  breaker: BreakerConfig;
  /** How long a probe may hold the breaker before another call may probe (its process may die). */
  probeTtlMs: number;
  /** How long a "go" and unsent successes may wait (see above). Default 0: every call asks. */
  syncMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** The gate's keys under a connection's prefix: pause, breaker, probe. */
function gateKeys(prefix: string): readonly [string, string, string] {
  return [`${prefix}:gate:pause`, `${prefix}:gate:breaker`, `${prefix}:gate:probe`];
}

export function createConnectionGate(redis: Redis, options: ConnectionGateOptions): ConnectionGate {
  if (!('bridgeGateAdmit' in redis)) {
    redis.defineCommand('bridgeGateAdmit', { numberOfKeys: 3, lua: ADMIT });
    redis.defineCommand('bridgeGateRecord', { numberOfKeys: 3, lua: RECORD });
    redis.defineCommand('bridgeGatePause', { numberOfKeys: 1, lua: PAUSE });
  }
  const commands = redis as unknown as GateCommands;
  const keys = gateKeys(options.prefix);
  const { breaker } = options;
  const syncMs = options.syncMs ?? 0;
  const clock = options.now ?? Date.now;
  // A pause this process already knows about needs no round trip until it ends.
  let pausedUntil = 0;
  let pausedFor: PauseReason = 'rate-limit';
  // A "go" from Redis, trusted until then; successes not sent yet.
  let goUntil = 0;
  let unsentOk = 0;
  let flushTimer: NodeJS.Timeout | undefined;

  function notePause(ms: number, reason: PauseReason): void {
    if (clock() + ms > pausedUntil) {
      pausedUntil = clock() + ms;
      pausedFor = reason;
    }
    goUntil = 0;
  }

  async function sendRecord(result: CallResult | 'none', probeToken: string): Promise<{ change: BreakerChange; pauseMs: number }> {
    const earlierOk = unsentOk;
    unsentOk = 0;
    const [change, pauseMs] = await commands.bridgeGateRecord(
      ...keys,
      result,
      probeToken,
      breaker.consecutiveFailures,
      breaker.errorRate,
      breaker.minCalls,
      breaker.windowMs,
      breaker.cooldownMs,
      breaker.maxCooldownMs,
      earlierOk,
    );
    const ms = Number(pauseMs);
    if (ms > 0) notePause(ms, 'breaker');
    return { change: (change || undefined) as BreakerChange, pauseMs: ms };
  }

  function scheduleFlush(): void {
    if (flushTimer) return;
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      // Lost successes only make the error rate look a little worse for one window.
      if (unsentOk > 0) sendRecord('none', '').catch(() => {});
    }, syncMs);
    flushTimer.unref();
  }

  return {
    async admit() {
      const now = clock();
      const left = pausedUntil - now;
      if (left > 0) return { kind: 'paused', delayMs: left, reason: pausedFor };
      if (goUntil > now) return { kind: 'go' };
      const token = randomUUID();
      const [kind, ttl, reason] = await commands.bridgeGateAdmit(...keys, token, options.probeTtlMs);
      if (kind === 'go') {
        if (syncMs > 0) goUntil = clock() + syncMs;
        return { kind: 'go' };
      }
      if (kind === 'probe') return { kind: 'probe', token };
      const delayMs = Number(ttl);
      const why: PauseReason = reason === 'breaker' ? 'breaker' : 'rate-limit';
      // Probe waits are short re-checks, not a known pause end: do not cache them.
      if (reason !== 'breaker' || delayMs > PROBE_WAIT_MS) notePause(delayMs, why);
      return { kind: 'paused', delayMs, reason: why };
    },
    async record(result, probeToken = '') {
      if (!breaker.enabled && !probeToken) return { change: undefined, pauseMs: 0 };
      if (result === 'ok' && !probeToken && syncMs > 0) {
        unsentOk += 1;
        scheduleFlush();
        return { change: undefined, pauseMs: 0 };
      }
      return sendRecord(result, probeToken);
    },
    async pause(ms, reason = 'rate-limit') {
      await commands.bridgeGatePause(keys[0], Math.max(1, Math.ceil(ms)), reason);
      notePause(ms, reason);
    },
  };
}

/** What ops see of a connection's gate (`scim-bridge status`, the admin API). */
export interface GateStatus {
  breaker: 'closed' | 'open';
  /** While calls are held back: why, and the ISO time the pause ends. */
  pause?: { reason: PauseReason; until: string };
}

/** Reads the gate's state without changing it; `prefix` as for {@link createConnectionGate}. */
export async function readGateStatus(redis: Redis, prefix: string, now = Date.now()): Promise<GateStatus> {
  const [pause, breaker] = gateKeys(prefix);
  const [ttl, reason, state] = await Promise.all([redis.pttl(pause), redis.get(pause), redis.hget(breaker, 'state')]);
  return {
    breaker: state === 'open' ? 'open' : 'closed',
    ...(ttl > 0 ? { pause: { reason: reason === 'breaker' ? 'breaker' : 'rate-limit', until: new Date(now + ttl).toISOString() } } : {}),
  };
}
