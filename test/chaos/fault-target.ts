import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer, type TestServer } from '../helpers/http-server.js';

/**
 * The chaos test's target: a small REST API of accounts and groups that fails a share of calls
 * the ways real targets fail. Faults are drawn from a seeded generator so a run can be replayed.
 *
 * | fault    | what the target does                                      | applied? |
 * |----------|-----------------------------------------------------------|----------|
 * | 500      | answers 500                                                | no       |
 * | 503      | answers 503 without Retry-After                            | no       |
 * | 429      | answers 429 with Retry-After: 1                            | no       |
 * | timeout  | holds the call past the bridge's timeout, then hangs up    | no       |
 * | drop     | destroys the socket at once                                | no       |
 * | late     | applies the call, then holds it past the timeout, hangs up | yes      |
 */

export type Fault = '500' | '503' | '429' | 'timeout' | 'drop' | 'late';

export interface Account {
  id: string;
  login: string;
  name: string;
  active: boolean;
}

export interface FaultTarget {
  server: TestServer;
  url: string;
  accounts: Map<string, Account>;
  groups: Map<string, { id: string; name: string; members: Set<string> }>;
  calls: number;
  faults: Record<Fault, number>;
  close(): Promise<void>;
}

/** mulberry32: a tiny seeded PRNG, enough to make fault sequences repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultTarget(options: { seed: number; faultRate: number; holdMs: number }): Promise<FaultTarget> {
  const random = seededRandom(options.seed);
  const accounts = new Map<string, Account>();
  const groups = new Map<string, { id: string; name: string; members: Set<string> }>();
  const faults: Record<Fault, number> = { '500': 0, '503': 0, '429': 0, timeout: 0, drop: 0, late: 0 };
  // 429 pauses the whole connection for a second, so it is drawn less often than the rest.
  const kinds: Array<[Fault, number]> = [['500', 3], ['503', 3], ['429', 1], ['timeout', 2], ['drop', 3], ['late', 3]];
  const weight = kinds.reduce((sum, [, w]) => sum + w, 0);
  let nextId = 0;

  function draw(): Fault | undefined {
    if (random() >= options.faultRate) return undefined;
    let pick = random() * weight;
    for (const [kind, w] of kinds) {
      pick -= w;
      if (pick < 0) return kind;
    }
    return '500';
  }

  function apply(method: string, url: URL, body: Record<string, unknown> | undefined): { status: number; body?: unknown } {
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'accounts') {
      if (method === 'GET') {
        const login = url.searchParams.get('login');
        return { status: 200, body: { data: [...accounts.values()].filter((a) => a.login === login) } };
      }
      if (method === 'POST') {
        const account = { id: `acc-${++nextId}`, login: String(body?.login), name: String(body?.name), active: body?.active !== false };
        accounts.set(account.id, account);
        return { status: 201, body: account };
      }
      const account = accounts.get(parts[1] ?? '');
      if (!account) return { status: 404, body: { message: 'no such account' } };
      if (method === 'DELETE') {
        accounts.delete(account.id);
        for (const group of groups.values()) group.members.delete(account.id);
        return { status: 204 };
      }
      Object.assign(account, { login: String(body?.login), name: String(body?.name), active: body?.active !== false });
      return { status: 200, body: account };
    }
    if (parts[0] === 'groups') {
      if (method === 'GET') {
        const name = url.searchParams.get('name');
        return { status: 200, body: { data: [...groups.values()].filter((g) => g.name === name).map(({ id, name: n }) => ({ id, name: n })) } };
      }
      if (method === 'POST') {
        const group = { id: `grp-${++nextId}`, name: String(body?.name), members: new Set<string>() };
        groups.set(group.id, group);
        return { status: 201, body: { id: group.id, name: group.name } };
      }
      const group = groups.get(parts[1] ?? '');
      if (!group) return { status: 404, body: { message: 'no such group' } };
      if (parts[2] === 'members') {
        const member = parts[3] ?? '';
        if (method === 'DELETE') group.members.delete(member);
        else if (accounts.has(member)) group.members.add(member);
        else return { status: 404, body: { message: 'no such account' } };
        return { status: 204 };
      }
      if (method === 'DELETE') {
        groups.delete(group.id);
        return { status: 204 };
      }
      group.name = String(body?.name);
      return { status: 200, body: { id: group.id, name: group.name } };
    }
    return { status: 404, body: { message: 'no such route' } };
  }

  const target = {
    accounts,
    groups,
    calls: 0,
    faults,
  } as FaultTarget;

  const server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      target.calls += 1;
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      const url = new URL(req.url ?? '/', 'http://target');
      const fault = draw();
      if (fault) faults[fault] += 1;
      const hangUp = () => setTimeout(() => res.socket?.destroy(), options.holdMs);
      switch (fault) {
        case '500':
          return void res.writeHead(500).end('internal error');
        case '503':
          return void res.writeHead(503).end('unavailable');
        case '429':
          return void res.writeHead(429, { 'retry-after': '1' }).end();
        case 'drop':
          return void res.socket?.destroy();
        case 'timeout':
          return void hangUp();
        case 'late':
          apply(req.method ?? 'GET', url, body);
          return void hangUp();
        default: {
          const result = apply(req.method ?? 'GET', url, body);
          res.writeHead(result.status, { 'content-type': 'application/json' }).end(result.body === undefined ? undefined : JSON.stringify(result.body));
        }
      }
    });
  });
  target.server = server;
  target.url = server.url;
  target.close = () => server.close();
  return target;
}
