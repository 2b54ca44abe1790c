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
