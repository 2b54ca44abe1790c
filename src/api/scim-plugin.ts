import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConnectionConfig, LimitsConfig } from '../config/schema.js';
import type { Conditions, Provisioning } from '../provisioning/service.js';
import { getResourceType, getSchema, resourceTypes, schemas, serviceProviderConfig } from '../scim/discovery.js';
import { scimError } from '../scim/error-catalog.js';
import { ScimError, badRequest } from '../scim/errors.js';
import { etagOf, tagsMatch } from '../scim/etag.js';
import { project, type ProjectionOptions } from '../scim/projection.js';
import { MAX_BULK_OPERATIONS } from '../scim/bulk.js';
import { renderResource } from '../scim/resource.js';
import { SCHEMA_LIST_RESPONSE, type ResourceType } from '../scim/types.js';
import type { StoredResource } from '../store/types.js';
import type { ConnectionAuthenticator } from '../auth/authenticator.js';
import { connectionAuthHook } from './auth.js';
import { registerConnectionRateLimit, type RequestCounter } from './connection-rate-limit.js';
import { registerBulkRoute } from './bulk-route.js';
import { useScimJsonBodies } from './scim-body.js';
import { searchFromBody, searchFromQuery, type SearchRequest } from './search-request.js';
import { urlLengthCheck } from './transport-errors.js';
import { SCIM_CONTENT_TYPE, scimErrorHandler } from './scim-errors.js';

/**
 * The SCIM 2.0 service provider of one connection, registered under its base path
 * (`/<id>/scim/v2` by default). Encapsulated: its JSON parser, auth hook and error handlers
 * apply to its routes only.
 * @see https://www.rfc-editor.org/rfc/rfc7644
 */

export interface ScimPluginOptions {
  connection: ConnectionConfig;
  provisioning: Provisioning;
  authenticator: ConnectionAuthenticator;
  /** External URL of the bridge (`publicUrl` in config); derived from the request when absent. */
  publicUrl?: string;
  /** Input bounds (config `limits`). */
  limits: LimitsConfig;
  /** The connection's configuration in effect (a reload may change its `rateLimit` numbers). */
  current?: () => ConnectionConfig;
  /** Where `rateLimit` counts requests (Redis, shared by every API process). */
  requestCounter?: RequestCounter;
}

type Query = Record<string, string | string[] | undefined>;

const RESOURCES: [ResourceType, string][] = [
  ['User', 'Users'],
  ['Group', 'Groups'],
];

/** `<basePath>/Users/<id>` (or Groups, Schemas, ResourceTypes) with an id over `idLength`. */
function hasOverlongId(url: string, basePath: string, idLength: number): boolean {
  const path = url.split('?')[0] ?? '';
  if (path.length <= basePath.length) return false;
  const match = /^\/(Users|Groups|Schemas|ResourceTypes)\/([^/]+)\/?$/i.exec(path.slice(basePath.length));
  return match !== null && match[2]!.length > idLength;
}

export async function scimPlugin(app: FastifyInstance, options: ScimPluginOptions): Promise<void> {
  const { connection, provisioning, limits } = options;
  // Entra sends application/scim+json; see scim-body.ts for how bodies are parsed and bounded.
  const bodyLimit = limits.bodyBytes;
  useScimJsonBodies(app, limits);

  // First, before the bearer check and any parsing; pass-through paths keep the application's own bounds.
  app.addHook('onRequest', urlLengthCheck(limits.urlLength));
  app.addHook('onRequest', connectionAuthHook(connection, options.authenticator));
  await registerConnectionRateLimit(app, connection, options.current, options.requestCounter);
  app.addHook('preValidation', async (request) => checkQueryLimits(request.query as Query, limits));
  app.setErrorHandler(scimErrorHandler);
  const noEndpoint = (request: FastifyRequest, reply: FastifyReply) => {
    // The router does not match an id segment longer than limits.idLength: no resource has it.
    const error = hasOverlongId(request.url, connection.basePath, limits.idLength)
      ? scimError('ID_TOO_LONG', { limit: limits.idLength })
      : scimError('NO_ENDPOINT', { method: request.method });
    scimErrorHandler(error, request, reply);
  };
  app.setNotFoundHandler(noEndpoint);
  // Explicit catch-alls: a pass-through upstream's wildcard route (docs/reverse-proxy.md) must
  // never receive a path under this base path, and the router prefers the longer prefix.
  app.all('/', noEndpoint);
  app.all('/*', noEndpoint);

  const baseUrlOf = (request: FastifyRequest) =>
    `${options.publicUrl ? options.publicUrl.replace(/\/+$/, '') : `${request.protocol}://${request.host}`}${connection.basePath}`;

  const send = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).type(SCIM_CONTENT_TYPE).send(body);

  const present = (request: FastifyRequest, stored: StoredResource, view: ProjectionOptions = projection(request.query as Query)) =>
    project(renderResource(stored, { baseUrl: baseUrlOf(request) }), view);

  /** A SearchRequest body, held to the same bounds as the query parameters of a GET. */
  const searchBody = (body: unknown): SearchRequest => {
    const search = searchFromBody(body);
    checkQueryLimits({ filter: search.filter, attributes: search.attributes, excludedAttributes: search.excludedAttributes }, limits);
    return search;
  };

  /** A ListResponse for a search over one resource type, or over both (`/.search` at the root). */
  async function answerSearch(request: FastifyRequest, reply: FastifyReply, types: readonly ResourceType[], search: SearchRequest) {
    const view: ProjectionOptions = { attributes: search.attributes, excludedAttributes: search.excludedAttributes };
    const result = await searchTypes(types, search);
    return send(reply, 200, {
      schemas: [SCHEMA_LIST_RESPONSE],
      totalResults: result.total,
      startIndex: result.startIndex,
      itemsPerPage: result.resources.length,
      Resources: result.resources.map((r) => present(request, r, view)),
    });
  }

  /**
   * One page over several types: each type's matches in turn (Users, then Groups), each sorted
   * on its own, with startIndex and count applied across the concatenation.
   */
  async function searchTypes(types: readonly ResourceType[], search: SearchRequest) {
    const startIndex = Math.max(1, search.startIndex ?? 1);
    let skip = startIndex - 1;
    let room = search.count;
    let total = 0;
    const resources: StoredResource[] = [];
    for (const type of types) {
      const withMembers = type === 'Group' && wantsMembers(search);
      const query = { ...search, startIndex: skip + 1, withMembers, ...(room === undefined ? {} : { count: room }) };
      const result = await provisioning.list(type, query);
      total += result.total;
      resources.push(...result.resources);
      skip = Math.max(0, skip - result.total);
      if (room !== undefined) room = Math.max(0, room - result.resources.length);
    }
    return { total, startIndex, resources };
  }

  for (const [type, segment] of RESOURCES) {
    const location = (request: FastifyRequest, id: string) => `${baseUrlOf(request)}/${segment}/${id}`;

    app.post(`/${segment}`, async (request, reply) => {
      const stored = await provisioning.create(type, request.body, { requestId: request.id });
      void reply.header('location', location(request, stored.id)).header('etag', etag(stored));
      return send(reply, 201, present(request, stored));
    });

    app.get(`/${segment}`, async (request, reply) => answerSearch(request, reply, [type], searchFromQuery(request.query as Query)));
    app.post(`/${segment}/.search`, async (request, reply) => answerSearch(request, reply, [type], searchBody(request.body)));
    methodNotAllowed(app, `/${segment}/.search`, ['POST']);

    app.get<{ Params: { id: string } }>(`/${segment}/:id`, async (request, reply) => {
      const stored = await provisioning.get(type, request.params.id, { withMembers: wantsMembers(projection(request.query as Query)) });
      void reply.header('etag', etag(stored));
      // RFC 7644 §3.14: a client holding the current version gets 304 and no body.
      const ifNoneMatch = header(request, 'if-none-match');
      if (ifNoneMatch !== undefined && tagsMatch(ifNoneMatch, stored.revision)) return reply.code(304).send();
      return send(reply, 200, present(request, stored));
    });

    app.put<{ Params: { id: string } }>(`/${segment}/:id`, async (request, reply) => {
      const stored = await provisioning.replace(type, request.params.id, request.body, conditions(request), { requestId: request.id });
      void reply.header('etag', etag(stored));
      return send(reply, 200, present(request, await reload(stored)));
    });

    app.patch<{ Params: { id: string } }>(`/${segment}/:id`, async (request, reply) => {
      const stored = await provisioning.patch(type, request.params.id, request.body, conditions(request), { requestId: request.id });
      void reply.header('etag', etag(stored));
      // Entra expects 204 for group PATCHes (returning members "isn't advisable"); users get the resource.
      if (type === 'Group') return reply.code(204).send();
      return send(reply, 200, present(request, stored));
    });

    app.delete<{ Params: { id: string } }>(`/${segment}/:id`, async (request, reply) => {
      await provisioning.remove(type, request.params.id, conditions(request), { requestId: request.id });
      return reply.code(204).send();
    });

    methodNotAllowed(app, `/${segment}`, ['GET', 'POST']);
    methodNotAllowed(app, `/${segment}/:id`, ['GET', 'PUT', 'PATCH', 'DELETE']);

    async function reload(stored: StoredResource): Promise<StoredResource> {
      return type === 'Group' ? provisioning.get(type, stored.id, { withMembers: true }) : stored;
    }
  }

  // A bulk request is one body, so the body limit is its maxPayloadSize (413 above it).
  registerBulkRoute(app, { provisioning, baseUrlOf, send });
  methodNotAllowed(app, '/Bulk', ['POST']);
  app.post('/.search', async (request, reply) => answerSearch(request, reply, ['User', 'Group'], searchBody(request.body)));
  methodNotAllowed(app, '/.search', ['POST']);

  app.get('/ServiceProviderConfig', async (request, reply) =>
    send(reply, 200, serviceProviderConfig(baseUrlOf(request), { bulk: { maxOperations: MAX_BULK_OPERATIONS, maxPayloadSize: bodyLimit } })),
  );
  // RFC 7644 §3.11: a provider that cannot tie the bearer token to a user answers /Me with 501.
  // This bridge authenticates provisioning clients, never the users they provision.
  const notImplemented = async () => {
    throw scimError('NOT_IMPLEMENTED_ME');
  };
  app.all('/Me', notImplemented);
  app.all('/Me/*', notImplemented);

  const { schemas: registry } = provisioning;
  app.get('/ResourceTypes', async (request, reply) => send(reply, 200, listOf(resourceTypes(baseUrlOf(request), registry))));
  app.get<{ Params: { name: string } }>('/ResourceTypes/:name', async (request, reply) => {
    const found = getResourceType(request.params.name, baseUrlOf(request), registry);
    if (!found) throw scimError('RESOURCE_TYPE_NOT_FOUND');
    return send(reply, 200, found);
  });
  app.get('/Schemas', async (request, reply) => send(reply, 200, listOf(schemas(baseUrlOf(request), registry))));
  app.get<{ Params: { id: string } }>('/Schemas/:id', async (request, reply) => {
    const found = getSchema(request.params.id, baseUrlOf(request), registry);
    if (!found) throw scimError('SCHEMA_NOT_FOUND');
    return send(reply, 200, found);
  });
  // Discovery documents are read-only (RFC 7644 §4).
  for (const url of ['/ServiceProviderConfig', '/ResourceTypes', '/ResourceTypes/:name', '/Schemas', '/Schemas/:id']) {
    methodNotAllowed(app, url, ['GET']);
  }
}

const WRITE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Answers the SCIM methods a URL does not support with 405, `Allow` and a SCIM error body. */
function methodNotAllowed(app: FastifyInstance, url: string, allowed: readonly string[]): void {
  const methods = WRITE_METHODS.filter((method) => !allowed.includes(method));
  app.route({
    method: methods,
    url,
    handler: async (request) => {
      throw new ScimError(405, undefined, `${request.method} is not supported here; use ${allowed.join(', ')}`, { allow: allowed.join(', ') });
    },
  });
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function conditions(request: FastifyRequest): Conditions {
  const ifMatch = header(request, 'if-match');
  return ifMatch === undefined ? {} : { ifMatch };
}

function listOf(resources: unknown[]) {
  return { schemas: [SCHEMA_LIST_RESPONSE], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}

function etag(stored: StoredResource): string {
  return etagOf(stored.revision);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Bounds on the query parameters the SCIM routes read, checked before any of them is used. */
function checkQueryLimits(query: Query, limits: LimitsConfig): void {
  const filter = query.filter;
  if (Array.isArray(filter) && filter.length > 1) throw badRequest('invalidFilter', 'give one filter parameter');
  const text = first(filter);
  if (text !== undefined && text.length > limits.filterLength) {
    throw badRequest('invalidFilter', `filters are at most ${limits.filterLength} characters`);
  }
  for (const name of ['attributes', 'excludedAttributes']) {
    const paths = (first(query[name]) ?? '').split(',');
    if (paths.some((path) => path.trim().length > limits.pathLength)) {
      throw badRequest('invalidPath', `${name} holds attribute paths of at most ${limits.pathLength} characters`);
    }
  }
}

function projection(query: Query): ProjectionOptions {
  return { attributes: first(query.attributes), excludedAttributes: first(query.excludedAttributes) };
}

/** Whether a group answer must carry `members` (skipped when excluded, the common Entra case). */
function wantsMembers(view: ProjectionOptions): boolean {
  const names = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (view.attributes) return names(view.attributes).some((n) => n === 'members' || n.startsWith('members.') || n.endsWith(':members'));
  return !names(view.excludedAttributes).includes('members');
}
