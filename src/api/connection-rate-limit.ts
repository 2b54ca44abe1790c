import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { ConnectionConfig } from '../config/schema.js';
import type { RedisClient } from '../lib/redis-connection.js';
import { ScimError } from '../scim/errors.js';

/** A Redis connection and the key prefix of one connection's request counter (@fastify/rate-limit's store). */
export interface RequestCounter {
  redis: RedisClient;
  nameSpace: string;
}

/**
 * @fastify/rate-limit's options for counting in Redis under `counter` (its `nameSpace` plus
 * `suffix`): shared by every process; while Redis does not answer, nothing is throttled.
 */
export function sharedCounterOptions(counter: RequestCounter, suffix = ''): { redis: RedisClient; nameSpace: string; skipOnError: true } {
  return { redis: counter.redis, nameSpace: `${counter.nameSpace}${suffix}`, skipOnError: true };
}

/**
 * The optional per-connection throttle (`rateLimit` in the config, off by default), shared by
 * bridged and `mode: proxy` connections: past `max` requests per `windowMs`, a SCIM 429 with
 * Retry-After. Counted in Redis (`counter`), so the allowance is the connection's, however many
 * API processes serve it; if Redis does not answer, the request is not throttled (it then meets
 * the store's own 503). Without a counter (tests), in process. Register it after the
 * connection's bearer check (route hooks run after the scope's onRequest hook), so requests
 * without the secret cannot use up the allowance, and before the scope's routes, which it then
 * covers.
 * @see https://github.com/fastify/fastify-rate-limit#readme
 */
export async function registerConnectionRateLimit(
  app: FastifyInstance,
  connection: Pick<ConnectionConfig, 'id' | 'rateLimit'>,
  /** The connection as the config reads now (hot reload): new numbers apply from the next window. */
  current?: () => Pick<ConnectionConfig, 'rateLimit'>,
  counter?: RequestCounter,
): Promise<void> {
  if (!connection.rateLimit) return;
  const initial = connection.rateLimit;
  const limit = () => current?.().rateLimit ?? initial;
  await app.register(rateLimit, {
    max: () => limit().max,
    timeWindow: () => limit().windowMs,
    keyGenerator: () => connection.id,
    ...(counter ? sharedCounterOptions(counter) : {}),
    errorResponseBuilder: (_request, context) =>
      new ScimError(429, undefined, `too many requests for this connection; retry in ${Math.ceil(context.ttl / 1000)} s`, {
        'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
      }),
  });
}
