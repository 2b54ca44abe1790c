import type { Redis } from 'ioredis';

/**
 * The latest delivery success and failure of a connection (time, job, code), for the admin
 * API's connection status and `scim-bridge status`. One small hash per connection,
 * `<store prefix>:ops:last`, overwritten in place: constant size whatever the traffic.
 */

export interface LastSuccess {
  at: string;
  jobId: string;
}

export interface LastFailure extends LastSuccess {
  code: string;
  status?: number;
}

export interface LastOutcomes {
  recordSuccess(entry: LastSuccess): Promise<void>;
  recordFailure(entry: LastFailure): Promise<void>;
  read(): Promise<{ lastSuccess?: LastSuccess; lastFailure?: LastFailure }>;
}

export function createLastOutcomes(redis: Redis, prefix: string): LastOutcomes {
  const key = `${prefix}:ops:last`;
  return {
    async recordSuccess(entry) {
      await redis.hset(key, 'success', JSON.stringify(entry));
    },
    async recordFailure(entry) {
      await redis.hset(key, 'failure', JSON.stringify(entry));
    },
    async read() {
      const [success, failure] = await redis.hmget(key, 'success', 'failure');
      return {
        ...(success ? { lastSuccess: JSON.parse(success) as LastSuccess } : {}),
        ...(failure ? { lastFailure: JSON.parse(failure) as LastFailure } : {}),
      };
    },
  };
}
