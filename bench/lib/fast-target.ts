import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { startChild } from './child.js';

/**
 * A target as fast as a target can be: node:http answering the sample legacy API's shapes
 * (mappings/sample-legacy.yaml) without storing anything, so the delivery benchmarks measure
 * the bridge, not a fake application. The lookup finds nothing, a create answers 201 with a
 * fresh `account_id` (a team's with a fresh `team_id`), everything else answers 200.
 *
 * Where a benchmark runs a load client, the target runs in its own process, as a real legacy
 * application would: in the benchmark's process it would share one event loop with the load
 * client and slow the client down only while the bridge side of a run is measured.
 * `GET /__bench/stats` answers its counters.
 */

export interface TargetStats {
  /** Calls received so far, all methods. */
  calls: number;
  /** Accounts created (POST /api/v1/accounts). */
  creates: number;
  /** When the last call was answered (Date.now()). */
  lastCallAt: number;
}

export interface FastTarget {
  url: string;
  stats(): Promise<TargetStats>;
  close(): Promise<void>;
}

const STATS_PATH = '/__bench/stats';

/** The target on a loopback port of this process (bench/servers/bench-server.ts runs it in a child). */
export async function listenFastTarget(): Promise<{ url: string; stats: () => TargetStats; close: () => Promise<void> }> {
  const stats: TargetStats = { calls: 0, creates: 0, lastCallAt: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === STATS_PATH) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
        return;
      }
      stats.calls += 1;
      stats.lastCallAt = Date.now();
      let status = 200;
      let body = '{}';
      if (req.method === 'POST' && req.url === '/api/v1/accounts') {
        stats.creates += 1;
        status = 201;
        body = `{"data":{"account_id":"acc-${stats.creates}"}}`;
      } else if (req.method === 'POST' && req.url === '/api/v1/teams') {
        status = 201;
        body = `{"data":{"team_id":"team-${stats.calls}"}}`;
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
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The fast target in its own process (`'child'`), or in this one (`'here'`) when this process
 * runs no load client, as in `delivery`, whose figures are comparable with earlier runs that way.
 */
export async function startFastTarget(where: 'child' | 'here' = 'child'): Promise<FastTarget> {
  if (where === 'here') {
    const { url, stats, close } = await listenFastTarget();
    return { url, stats: async () => stats(), close };
  }
  const child = await startChild({ kind: 'target' });
  if (!child.url) throw new Error('the fast target did not report its URL');
  const pool = new Pool(child.url, { connections: 1 });
  return {
    url: child.url,
    async stats() {
      const { body } = await pool.request({ method: 'GET', path: STATS_PATH });
      return (await body.json()) as TargetStats;
    },
    async close() {
      await pool.close();
      await child.stop();
    },
  };
}
