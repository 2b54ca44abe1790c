/** What bench/servers/bench-server.ts starts in its child process; passed as one JSON argument. */
export type ServerSpec =
  /** The real bridge (`startBridge`), from a config object as `configFromObject` takes it. */
  | { kind: 'bridge'; config: unknown; api: boolean; worker: boolean }
  /** The front-door baseline: Fastify routes on the SCIM paths that each do one Redis GET. */
  | { kind: 'bare'; redisUrl: string; key: string; basePath: string }
  /**
   * The floor under the bridge's writes: Fastify routes that each parse the request, send the
   * Redis commands one bridge request of that kind sent (captured with MONITOR; a script call
   * goes to a script that does nothing, with the same arguments) and answer what the bridge
   * answered. What a request of that shape costs on this stack, before any of the bridge's work.
   */
  | { kind: 'floor'; redisUrl: string; routes: FloorRoute[] }
  /** The fast target of the delivery benchmarks (bench/lib/fast-target.ts). */
  | { kind: 'target' }
  /** A node:http server answering a constant JSON body: the load client's own ceiling. */
  | { kind: 'echo' }
  /** The delivery baseline: a BullMQ worker whose processor does nothing. */
  | { kind: 'noop-worker'; redisUrl: string; prefix: string; queue: string; concurrency: number };

export interface FloorRoute {
  method: 'GET' | 'POST' | 'PATCH';
  /** A Fastify route path, e.g. `/bench/scim/v2/Users/:id`. */
  url: string;
  status: number;
  /** Each command's name and arguments, base64 (they may be binary). */
  commands: string[][];
  answer: unknown;
}
