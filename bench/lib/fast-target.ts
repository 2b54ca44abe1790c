import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A target as fast as a target can be: node:http answering the sample legacy API's shapes
 * (mappings/sample-legacy.yaml) without storing anything, so the delivery benchmarks measure
 * the bridge, not a fake application. The lookup finds nothing, a create answers 201 with a
 * fresh `account_id`, everything else answers 200.
 */

export interface FastTarget {
  url: string;
  /** Calls received so far, all methods. */
  calls(): number;
  /** Accounts created (POST /api/v1/accounts). */
  creates(): number;
  /** When the last call was answered (Date.now()). */
  lastCallAt(): number;
  close(): Promise<void>;
}

export async function startFastTarget(): Promise<FastTarget> {
  let calls = 0;
  let creates = 0;
  let lastCallAt = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls += 1;
      lastCallAt = Date.now();
      let status = 200;
      let body = '{}';
      if (req.method === 'POST' && req.url === '/api/v1/accounts') {
        creates += 1;
        status = 201;
        body = `{"data":{"account_id":"acc-${creates}"}}`;
      } else if (req.method === 'GET' && req.url?.startsWith('/api/v1/accounts?')) {
        body = '{"data":[]}';
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls: () => calls,
    creates: () => creates,
    lastCallAt: () => lastCallAt,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
