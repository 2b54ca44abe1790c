import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import SCIMMY from 'scimmy';
import { startServer, type TestServer } from '../helpers/http-server.js';

/**
 * A strict RFC 7644 SCIM server for tests: scimmy's User and Group resources (its schema
 * coercion rejects string booleans, a string manager, wrong types) over a tiny node:http router
 * on loopback, with in-memory users and groups. scimmy alone is lenient about a few PATCH shapes
 * Entra sends, so `strictPatch` rejects those too: a capitalised `op`, a `remove` carrying a
 * value, and path-less values with dotted keys (RFC 7644 §3.5.2 defines none of them). It
 * accepts one bearer token, normally obtained from its own client-credentials token endpoint.
 * scimmy's resource declarations are global: one server per test file.
 */

type Doc = Record<string, unknown> & { id: string };

export interface StrictScimServer {
  /** SCIM base URL, e.g. http://127.0.0.1:1234/scim/v2 */
  baseUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  users(): Doc[];
  groups(): Doc[];
  /** Stops answering (every request is refused at the socket) until `up()`. */
  down(): void;
  /** Answers every SCIM request with this status (503 with `Retry-After: 0`) until `up()`. */
  failWith(status: number): void;
  up(): void;
  /** The writes it applied, in order: `PATCH /Users/<id>` (2xx answers only). */
  applied(): string[];
  close(): Promise<void>;
}

const PATCH_OPS = new Set(['add', 'replace', 'remove']);

export async function startStrictScimServer(): Promise<StrictScimServer> {
  const users = new Map<string, Doc>();
  const groups = new Map<string, Doc>();
  const clientId = 'bridge';
  // Hex only: client_secret_basic form-encodes the secret (RFC 6749 §2.3.1), which this check skips.
  const clientSecret = randomBytes(16).toString('hex');
  const token = randomUUID();
  let isDown = false;
  let failing: number | undefined;
  const applied: string[] = [];

  SCIMMY.Config.set({ patch: true, filter: true });
  SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
  declare(SCIMMY.Resources.User, users, 'User', (doc) => {
    for (const other of users.values()) {
      if (other.id !== doc.id && String(other.userName).toLowerCase() === String(doc.userName).toLowerCase()) {
        throw scimError(409, 'uniqueness', 'userName is already taken');
      }
    }
  }, (id) => {
    // A deleted user leaves every group, as a real directory does.
    for (const group of groups.values()) {
      if (Array.isArray(group.members)) group.members = group.members.filter((m: { value?: string }) => m.value !== id);
    }
  });
  declare(SCIMMY.Resources.Group as unknown as typeof SCIMMY.Resources.User, groups, 'Group', () => {}, () => {});

  const server: TestServer = await startServer((req, res) => {
    if (isDown) {
      req.socket.destroy();
      return;
    }
    if (failing !== undefined && req.url?.startsWith('/scim/')) {
      req.resume();
      res.writeHead(failing, { 'content-type': 'application/scim+json', ...(failing === 503 ? { 'retry-after': '0' } : {}) });
      res.end(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(failing), detail: 'unavailable' }));
      return;
    }
    res.on('finish', () => {
      if (req.method !== 'GET' && req.url?.startsWith('/scim/') && res.statusCode < 300) applied.push(`${req.method} ${req.url.split('?')[0]!.slice('/scim/v2'.length)}`);
    });
    void handle(req, res).catch(() => send(res, 500, { detail: 'test server failed' }));
  });
  const baseUrl = `${server.url}/scim/v2`;
  SCIMMY.Resources.User.basepath(baseUrl);
  SCIMMY.Resources.Group.basepath(baseUrl);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', server.url);
    const text = await readText(req);
    if (url.pathname === '/token') return issueToken(req, text, res);
    if (req.headers.authorization !== `Bearer ${token}`) return error(res, scimError(401, undefined, 'bad token'));
    const match = /^\/scim\/v2\/(Users|Groups)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!match) return error(res, scimError(404, undefined, 'no such endpoint'));
    // Both resource classes have the same shape; the typings only know them apart.
    const Resource = (match[1] === 'Users' ? SCIMMY.Resources.User : SCIMMY.Resources.Group) as typeof SCIMMY.Resources.User;
    const id = match[2] ? decodeURIComponent(match[2]) : undefined;
    const text_ = (name: string) => url.searchParams.get(name) ?? undefined;
    const number = (name: string) => (url.searchParams.has(name) ? Number(url.searchParams.get(name)) : undefined);
    const params = Object.fromEntries(
      Object.entries({
        filter: text_('filter'),
        attributes: text_('attributes'),
        excludedAttributes: text_('excludedAttributes'),
        startIndex: number('startIndex'),
        count: number('count'),
      }).filter(([, value]) => value !== undefined),
    );
    try {
      const body = text ? (JSON.parse(text) as unknown) : undefined;
      if (req.method === 'GET') return send(res, 200, await new Resource(id, params).read());
      if (req.method === 'POST' && !id) return send(res, 201, await new Resource(undefined, params).write(body as never));
      if (req.method === 'PUT' && id) return send(res, 200, await new Resource(id, params).write(body as never));
      if (req.method === 'PATCH' && id) {
        strictPatch(body);
        const patched = await new Resource(id, params).patch(body as never);
        return patched ? send(res, 200, patched) : send(res, 204);
      }
      if (req.method === 'DELETE' && id) {
        await new Resource(id).dispose();
        return send(res, 204);
      }
      return error(res, scimError(405, undefined, 'method not allowed'));
    } catch (ex) {
      if (ex instanceof SCIMMY.Types.Error) return error(res, ex);
      if (ex instanceof SyntaxError || ex instanceof TypeError) return error(res, scimError(400, 'invalidValue', ex.message));
      throw ex;
    }
  }

  function issueToken(req: IncomingMessage, text: string, res: ServerResponse) {
    const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
    const form = new URLSearchParams(text);
    if (req.headers.authorization !== `Basic ${basic}` || form.get('grant_type') !== 'client_credentials') {
      return send(res, 401, { error: 'invalid_client' });
    }
    return send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
  }

  return {
    baseUrl,
    tokenUrl: `${server.url}/token`,
    clientId,
    clientSecret,
    users: () => [...users.values()],
    groups: () => [...groups.values()],
    down: () => {
      isDown = true;
      server.server.closeIdleConnections();
    },
    failWith: (status) => {
      failing = status;
    },
    up: () => {
      isDown = false;
      failing = undefined;
    },
    applied: () => [...applied],
    close: () => server.close(),
  };
}

/** Entra's PATCH shapes scimmy would accept but RFC 7644 §3.5.2 does not define. */
function strictPatch(body: unknown): void {
  const operations = (body as { Operations?: unknown[] } | undefined)?.Operations;
  if (!Array.isArray(operations)) return;
  for (const operation of operations as Record<string, unknown>[]) {
    if (typeof operation.op !== 'string' || !PATCH_OPS.has(operation.op)) {
      throw scimError(400, 'invalidSyntax', `op must be one of add, replace, remove, not ${String(operation.op)}`);
    }
    if (operation.op === 'remove' && 'value' in operation) throw scimError(400, 'invalidSyntax', 'remove takes no value');
    if (operation.path === undefined && operation.value && typeof operation.value === 'object') {
      for (const key of Object.keys(operation.value)) {
        if (!key.startsWith('urn:') && key.includes('.')) throw scimError(400, 'invalidPath', `${key} is not an attribute name`);
      }
    }
  }
}

function declare(
  Resource: typeof SCIMMY.Resources.User,
  store: Map<string, Doc>,
  resourceType: string,
  check: (doc: Doc) => void,
  onDelete: (id: string) => void,
): void {
  SCIMMY.Resources.declare(Resource)
    .ingress((resource, instance) => {
      const id = resource.id ?? randomUUID();
      if (resource.id && !store.has(id)) throw scimError(404, undefined, `Resource ${id} not found`);
      const now = new Date().toISOString();
      const previous = store.get(id);
      const doc: Doc = {
        ...(JSON.parse(JSON.stringify(instance)) as Record<string, unknown>),
        id,
        meta: { resourceType, created: (previous?.meta as { created?: string } | undefined)?.created ?? now, lastModified: now },
      };
      check(doc);
      store.set(id, doc);
      return doc as never;
    })
    .egress((resource) => {
      if (resource.id) {
        const found = store.get(resource.id);
        if (!found) throw scimError(404, undefined, `Resource ${resource.id} not found`);
        return found as never;
      }
      const all = [...store.values()];
      return (resource.filter ? resource.filter.match(all) : all) as never;
    })
    .degress((resource) => {
      if (!resource.id || !store.delete(resource.id)) throw scimError(404, undefined, `Resource ${resource.id} not found`);
      onDelete(resource.id);
    });
}

/** scimmy's typings want a scimType string; RFC 7644 errors without one leave it out. */
function scimError(status: number, scimType: string | undefined, detail: string): InstanceType<typeof SCIMMY.Types.Error> {
  return new SCIMMY.Types.Error(status, scimType as string, detail);
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/scim+json' });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

function error(res: ServerResponse, ex: InstanceType<typeof SCIMMY.Types.Error>): void {
  send(res, Number(ex.status), new SCIMMY.Messages.ErrorResponse(ex));
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
