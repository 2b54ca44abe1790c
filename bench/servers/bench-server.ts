import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { startBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { listenFastTarget } from '../lib/fast-target.js';
import type { ServerSpec } from './spec.js';

/**
 * Child process entry of the benchmarks: starts the server described by the JSON spec in argv,
 * prints `{"ready":true,"url":…}` on stdout, and closes gracefully on SIGTERM. Run by
 * bench/lib/child.ts, never by hand.
 */

type Stop = () => Promise<void>;

/** Same ceiling the bridge's delivery worker uses when a connection sets no rate limit. */
const UNLIMITED_JOBS = 1_000_000_000;

async function start(spec: ServerSpec): Promise<{ url?: string; stop: Stop }> {
  switch (spec.kind) {
    case 'bridge': {
      // BENCH_LOG_LEVEL=info: the bridge logs as it does in production (one line per request and
      // per delivery attempt), into /dev/null, to measure what logging costs. Off by default.
      const level = process.env.BENCH_LOG_LEVEL;
      const logging = level ? { logStream: createWriteStream('/dev/null') } : { logger: false as const };
      const bridge = await startBridge(configFromObject(level ? { ...(spec.config as object), logLevel: level } : spec.config), {
        api: spec.api,
        worker: spec.worker,
        listen: { host: '127.0.0.1', port: 0 },
        ...logging,
      });
      return { ...(bridge.url ? { url: bridge.url } : {}), stop: () => bridge.close() };
    }
    case 'bare': {
      const redis = new Redis(spec.redisUrl);
      const app = Fastify({ logger: false });
      acceptScimJson(app);
      const lookup = async () => ({ id: 'bare', value: await redis.get(spec.key) });
      app.get(`${spec.basePath}/Users`, lookup);
      app.get(`${spec.basePath}/Users/:id`, lookup);
      app.post(`${spec.basePath}/Users`, async (_request, reply) => reply.code(201).send(await lookup()));
      app.patch(`${spec.basePath}/Users/:id`, lookup);
      return listenBaseline(app, redis);
    }
    case 'floor': {
      const redis = new Redis(spec.redisUrl, { enableAutoPipelining: true });
      const noop = (await redis.script('LOAD', "return {'ok', '1'}")) as string;
      const app = Fastify({ logger: false });
      acceptScimJson(app);
      for (const route of spec.routes) {
        const commands = route.commands.map((encoded) => {
          const [name = '', ...args] = encoded.map((arg) => Buffer.from(arg, 'base64'));
          const command = name.toString().toLowerCase();
          // A script call keeps its keys and arguments; only the script is one that does nothing.
          if (command === 'evalsha' || command === 'eval') return { name: 'evalsha', args: [Buffer.from(noop), ...args.slice(1)] };
          return { name: command, args };
        });
        app.route({
          method: route.method,
          url: route.url,
          handler: async (_request, reply) => {
            await Promise.all(commands.map(({ name, args }) => redis.call(name, ...args)));
            return reply.code(route.status).header('content-type', 'application/scim+json').send(route.answer);
          },
        });
      }
      return listenBaseline(app, redis);
    }
    case 'target':
      return listenFastTarget().then(({ url, close }) => ({ url, stop: close }));
    case 'echo': {
      const body = JSON.stringify({ id: 'echo', value: 'ok' });
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end(body));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    }
    case 'noop-worker': {
      const connection = new Redis(spec.redisUrl, { maxRetriesPerRequest: null });
      const worker = new Worker(spec.queue, async () => ({ outcome: 'noop' }), {
        connection,
        prefix: spec.prefix,
        concurrency: spec.concurrency,
        limiter: { max: UNLIMITED_JOBS, duration: 1_000 },
      });
      await worker.waitUntilReady();
      return {
        stop: async () => {
          await worker.close();
          await connection.quit();
        },
      };
    }
  }
}

/** Starts a baseline's Fastify app on a free loopback port; stopping it closes its Redis too. */
async function listenBaseline(app: FastifyInstance, redis: Redis): Promise<{ url: string; stop: Stop }> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await app.close();
      await redis.quit();
    },
  };
}

/** The baselines parse SCIM bodies as plain JSON, as the bridge's parser does before its checks. */
function acceptScimJson(app: FastifyInstance): void {
  app.addContentTypeParser('application/scim+json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body.toString()));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ServerSpec;
const running = await start(spec);
process.stdout.write(`${JSON.stringify({ ready: true, url: running.url })}\n`);
process.once('SIGTERM', () => {
  running.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('bench server failed to stop', error);
      process.exit(1);
    },
  );
});
