import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny JSON API on 127.0.0.1:0 for the example mappings' tests: each test declares its routes
 * over its own in-memory records, so every fake stays a page long and shaped like its vendor.
 */

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  rawBody: string;
}

export interface FakeReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: string;
  /** Matched against the path without the query; groups become `params`. */
  path: RegExp;
  handle(request: FakeRequest, params: string[]): FakeReply | Promise<FakeReply>;
}

export interface FakeTarget {
  url: string;
  /** `METHOD path` of every request, in order. */
  log: string[];
  close(): Promise<void>;
}

export async function startFakeTarget(routes: Route[], authorize: (request: FakeRequest) => boolean = () => true): Promise<FakeTarget> {
  const log: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const request: FakeRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: undefined, rawBody };
    let reply: FakeReply;
    log.push(`${request.method} ${url.pathname}${url.search}`);
    try {
      const json = /json/.test(req.headers['content-type'] ?? '');
      request.body = rawBody && json ? JSON.parse(rawBody) : undefined;
      if (!authorize(request)) reply = { status: 401, body: { error: 'unauthorized' } };
      else {
        const route = routes.find((r) => r.method === request.method && r.path.test(url.pathname));
        const params = route ? (route.path.exec(url.pathname)?.slice(1) ?? []) : [];
        reply = route ? await route.handle(request, params.map(decodeURIComponent)) : { status: 404, body: { error: 'no such route' } };
      }
    } catch (err) {
      reply = { status: 400, body: { error: (err as Error).message } };
    }
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, { ...(text ? { 'content-type': 'application/json' } : {}), ...reply.headers });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Sequential ids per fake: `prefix-1`, `prefix-2`… */
export function idMaker(prefix: string): () => string {
  let next = 0;
  return () => `${prefix}-${(next += 1)}`;
}
