import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';

/**
 * Test and demo controls shared by the fake target APIs in `examples/`: a request log
 * (`GET|DELETE /_requests`) so tests can assert exactly what the bridge sent, and fault
 * injection (`GET|POST|DELETE /_faults`) so they can script outages (503 twice, then success;
 * 429 with Retry-After…) without touching the fake's code. Routes under `/_` and `/healthz` are
 * neither logged nor subject to faults.
 */

/** One request as the fake received it. */
export interface LoggedRequest {
  method: string;
  /** Path with its query string, exactly as received, so it compares with a mapping's `path`. */
  path: string;
  /** Request headers, lower-case names; secret headers (see `secretHeaders`) read `[redacted]`. */
  headers: Record<string, string>;
  /** Parsed JSON body; absent when there was none or the request was rejected before parsing (401). */
  body?: unknown;
  /** Status the fake answered with. */
  status?: number;
}

/** A scripted failure waiting for matching requests. */
export interface Fault {
  status: number;
  /** How many more matching requests it will fail. */
  times: number;
  /** Sent as the `Retry-After` header: delay in seconds, or an HTTP date. */
  retryAfter?: number | string;
  /** `"METHOD /path"`, `"METHOD"` or `"/path"`; `/path` may be literal, a route pattern (`/api/v1/accounts/:id`) or include a query. */
  match?: string;
}

export interface TestControlsOptions {
  /** Header names whose values are redacted in the request log. */
  secretHeaders?: string[];
  /**
   * Oldest entries are dropped beyond this many, so a long demo or benchmark cannot grow the
   * log without bound.
   * @default 50000
   */
  maxLoggedRequests?: number;
}

export interface TestControls {
  /** The log so far (a copy). */
  requests(): LoggedRequest[];
  /** Faults not yet used up (a copy). */
  faults(): Fault[];
}

const faultBodySchema = z.strictObject({
  status: z.number().int().min(400).max(599),
  times: z.number().int().min(1).default(1),
  retryAfter: z.union([z.number().int().min(0), z.string().min(1)]).optional(),
  match: z.string().optional(),
});

interface FaultRule extends Fault {
  method?: string;
  path?: string;
}

/**
 * Adds the log and fault hooks and the `/_requests` and `/_faults` routes to `app`. Register it
 * before the fake's auth hook, so that rejected (401) requests are logged too; faults only hit
 * requests that passed authentication, because they run at `preHandler`.
 */
export function registerTestControls(app: FastifyInstance, options: TestControlsOptions = {}): TestControls {
  const secretHeaders = new Set((options.secretHeaders ?? []).map((name) => name.toLowerCase()));
  const maxLogged = options.maxLoggedRequests ?? 50_000;
  const log: LoggedRequest[] = [];
  const entries = new WeakMap<FastifyRequest, LoggedRequest>();
  let rules: FaultRule[] = [];

  app.addHook('onRequest', async (request) => {
    if (isControlPath(request.url)) return;
    const entry: LoggedRequest = {
      method: request.method,
      path: request.url,
      headers: redactHeaders(request.headers, secretHeaders),
    };
    log.push(entry);
    if (log.length > maxLogged) log.shift();
    entries.set(request, entry);
  });

  app.addHook('preValidation', async (request) => {
    const entry = entries.get(request);
    if (entry && request.body !== undefined) entry.body = request.body;
  });

  app.addHook('preHandler', async (request, reply) => {
    if (!entries.has(request)) return;
    const rule = rules.find((candidate) => ruleMatches(candidate, request));
    if (!rule) return;
    rule.times -= 1;
    rules = rules.filter((candidate) => candidate.times > 0);
    if (rule.retryAfter !== undefined) reply.header('retry-after', String(rule.retryAfter));
    return reply.code(rule.status).send({ error: 'injected_fault', status: rule.status });
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const entry = entries.get(request);
    if (entry) entry.status = reply.statusCode;
    return payload;
  });

  app.get('/_requests', async () => ({ requests: log }));
  app.delete('/_requests', async (_request, reply) => {
    log.length = 0;
    return reply.code(204).send();
  });

  app.get('/_faults', async () => ({ faults: rules.map(toFault) }));
  app.post('/_faults', async (request, reply) => {
    const parsed = faultBodySchema.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: 'invalid_fault', detail: z.prettifyError(parsed.error) });
    const target = parsed.data.match === undefined ? {} : parseMatch(parsed.data.match);
    if (!target) return reply.code(400).send({ error: 'invalid_fault', detail: 'match must be "METHOD /path", "METHOD" or "/path"' });
    rules.push({ ...parsed.data, ...target });
    return reply.code(204).send();
  });
  app.delete('/_faults', async (_request, reply) => {
    rules = [];
    return reply.code(204).send();
  });

  return {
    requests: () => log.map((entry) => ({ ...entry })),
    faults: () => rules.map(toFault),
  };
}

function isControlPath(url: string): boolean {
  return url.startsWith('/_') || url === '/healthz' || url.startsWith('/healthz?');
}

function redactHeaders(headers: FastifyRequest['headers'], secret: Set<string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    result[name] = secret.has(name) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

function parseMatch(match: string): { method?: string; path?: string } | undefined {
  const parts = match.trim().split(/\s+/);
  const [first, second] = parts;
  if (!first || parts.length > 2) return undefined;
  if (second !== undefined) return second.startsWith('/') ? { method: first.toUpperCase(), path: second } : undefined;
  return first.startsWith('/') ? { path: first } : { method: first.toUpperCase() };
}

function ruleMatches(rule: FaultRule, request: FastifyRequest): boolean {
  if (rule.method !== undefined && rule.method !== '*' && rule.method !== request.method) return false;
  if (rule.path === undefined) return true;
  if (rule.path.includes('?')) return rule.path === request.url;
  const pathname = request.url.split('?', 1)[0];
  return rule.path === pathname || rule.path === request.routeOptions.url;
}

function toFault(rule: FaultRule): Fault {
  const { method: _method, path: _path, ...fault } = rule;
  return { ...fault };
}
