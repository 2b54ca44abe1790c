import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** A fake API listening on a real socket, as returned by the `start…` factories. */
export interface RunningFakeApi {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** @default '127.0.0.1' (loopback only: the fakes are for tests and demos) */
  host?: string;
  /** @default 0 (the OS picks a free port; read it from `url`) */
  port?: number;
}

/** Listens on `host:port` and reports the actual URL, so callers can use port 0. */
export async function listenFakeApi(app: FastifyInstance, options: ListenOptions = {}): Promise<RunningFakeApi> {
  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const { address, family, port } = app.server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return { url: `http://${host}:${port}`, app, close: () => app.close() };
}

/**
 * The body of a fake API's `server.ts`: reads its secret from `secretEnv`, PORT (default 0,
 * a free port) and HOST (default 127.0.0.1), starts it, prints `<name> listening on <url>`, and
 * exits 0 on SIGINT/SIGTERM once closed. A missing secret or a bad PORT exits 2.
 */
export async function runFakeApiProcess(
  name: string,
  secretEnv: { name: string; meaning: string },
  start: (secret: string, options: ListenOptions) => Promise<RunningFakeApi>,
): Promise<void> {
  const secret = process.env[secretEnv.name];
  if (!secret) {
    console.error(`${secretEnv.name} must be set (${secretEnv.meaning})`);
    process.exit(2);
  }
  const port = Number(process.env.PORT ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`PORT must be an integer between 0 and 65535, got "${process.env.PORT}"`);
    process.exit(2);
  }
  const api = await start(secret, { port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`${name} listening on ${api.url}`);
  const shutdown = () => {
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
