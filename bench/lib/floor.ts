import { request } from 'undici';
import type { FloorRoute } from '../servers/spec.js';
import type { BenchChild } from './child.js';
import { entraUserBody, entraUserPatch, filterByUserName, userName } from './entra.js';
import { BENCH_REDIS_URL } from './redis.js';
import { captureCommands } from './redis-monitor.js';

/**
 * The floor under the bridge's front door: for each of Entra's request kinds, what one bridge
 * request sent to Redis (captured with MONITOR) and what it answered. The `floor` bench server
 * (servers/bench-server.ts) replays exactly that, with a script that does nothing in place of
 * the bridge's and none of the bridge's own work in between: what a request of that shape costs
 * on this stack (HTTP, JSON, the Redis client), which the bridge cannot go below.
 */

export interface Floor {
  routes: FloorRoute[];
  /** One line per kind: its Redis commands, arguments and bytes, request and answer sizes. */
  summary: string[];
  /** The user id in every floor POST answer (not a user the bridge holds). */
  answeredId: string;
  /** Iterations `0 … firstFreeIteration - 1` were used for the captured users. */
  firstFreeIteration: number;
}

type Kind = 'filter GET' | 'POST' | 'PATCH';

/** The benchmarks' note on what the floor is and what was captured for it. */
export function floorNote(floor: Floor): string {
  return `floor: Fastify routes that send the Redis commands one bridge request of each kind sent (a script that does nothing in place of the bridge's) and answer what the bridge answered. Captured: ${floor.summary.join('; ')}.`;
}

export async function captureFloor(bridge: BenchChild, basePath: string, secret: string): Promise<Floor> {
  const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' };
  const capture = async (kind: Kind, method: FloorRoute['method'], path: string, url: string, body?: unknown): Promise<FloorRoute & { line: string }> => {
    const sent = body === undefined ? undefined : JSON.stringify(body);
    let reply: { status: number; text: string } | undefined;
    const commands = await captureCommands(BENCH_REDIS_URL, async () => {
      const res = await request(`${bridge.url}${basePath}${path}`, { method, headers, ...(sent === undefined ? {} : { body: sent }) });
      reply = { status: res.statusCode, text: await res.body.text() };
    });
    if (!reply || reply.status >= 300) throw new Error(`floor: the captured ${kind} answered ${reply?.status}`);
    const names = commands.map((c) => c[0]?.toString().toUpperCase() ?? '?');
    const bytes = commands.reduce((sum, c) => sum + c.reduce((n, arg) => n + arg.length, 0), 0);
    const args = commands.reduce((sum, c) => sum + c.length - 1, 0);
    const requestBytes = sent === undefined ? 0 : Buffer.byteLength(sent);
    return {
      method,
      url,
      status: reply.status,
      commands: commands.map((c) => c.map((arg) => arg.toString('base64'))),
      answer: JSON.parse(reply.text) as unknown,
      line: `${kind}: ${commands.length} Redis command${commands.length === 1 ? '' : 's'} (${names.join(', ')}), ${args} arguments, ${bytes} B; request body ${requestBytes} B, answer ${Buffer.byteLength(reply.text)} B`,
    };
  };
  // The first round loads the scripts (EVAL with their source) and records the secret's first
  // use; the second is what every later request sends.
  let captured: Array<FloorRoute & { line: string }> = [];
  let answeredId = '';
  for (const i of [0, 1]) {
    const filter = filterByUserName(userName(i));
    const miss = await capture('filter GET', 'GET', filter.path, `${basePath}/Users`);
    const post = await capture('POST', 'POST', '/Users', `${basePath}/Users`, entraUserBody(i));
    const id = (post.answer as { id?: unknown }).id;
    if (typeof id !== 'string') throw new Error('floor: the captured POST answered no id');
    answeredId = id;
    const patch = await capture('PATCH', 'PATCH', `/Users/${encodeURIComponent(id)}`, `${basePath}/Users/:id`, entraUserPatch(i));
    captured = [miss, post, patch];
  }
  return {
    routes: captured.map(({ line: _line, ...route }) => route),
    summary: captured.map((c) => c.line),
    answeredId,
    firstFreeIteration: 2,
  };
}
