/** What bench/servers/bench-server.ts starts in its child process; passed as one JSON argument. */
export type ServerSpec =
  /** The real bridge (`startBridge`), from a config object as `configFromObject` takes it. */
  | { kind: 'bridge'; config: unknown; api: boolean; worker: boolean }
  /** The front-door baseline: Fastify routes on the SCIM paths that each do one Redis GET. */
  | { kind: 'bare'; redisUrl: string; key: string; basePath: string }
  /** The fast target of the delivery benchmarks (bench/lib/fast-target.ts). */
  | { kind: 'target' }
  /** A node:http server answering a constant JSON body: the load client's own ceiling. */
  | { kind: 'echo' }
  /** The delivery baseline: a BullMQ worker whose processor does nothing. */
  | { kind: 'noop-worker'; redisUrl: string; prefix: string; queue: string; concurrency: number };
