import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { scimError } from '../scim/error-catalog.js';
import { renderErrorBody, ScimError } from '../scim/errors.js';
import { scimErrorHandler, SCIM_CONTENT_TYPE } from './scim-errors.js';

/**
 * Failures that happen before a request reaches a route: a request head Node cannot parse or
 * that is too large, a request that arrives too slowly, a URL the router refuses. Fastify
 * answers these with its own JSON (echoing the URL); here they get SCIM bodies like every
 * other error, with fixed details that quote nothing the client sent.
 */

/**
 * Fastify's `frameworkErrors`: the router rejected the URL before any route or hook ran. A path
 * segment longer than `limits.idLength` (the router's maxParamLength) names a resource that
 * cannot exist: 404, as for any unknown id; a whole URL over `limits.urlLength` stays 414.
 */
export function frameworkErrorHandler(limits: { urlLength: number; idLength: number }) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    let answer: ScimError;
    if (error.code !== 'FST_ERR_MAX_PARAM_LENGTH') answer = new ScimError(400, undefined, 'the URL is not valid (check its percent-encoding)');
    else if (request.url.length > limits.urlLength) answer = urlTooLong(limits.urlLength);
    else answer = scimError('ID_TOO_LONG', { limit: limits.idLength });
    scimErrorHandler(answer, request, reply);
  };
}

function urlTooLong(maxLength: number): ScimError {
  return new ScimError(414, undefined, `the URL is longer than ${maxLength} characters`);
}

/** An `onRequest` hook answering URLs longer than `maxLength` with 414, before routing work. */
export function urlLengthCheck(maxLength: number) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.url.length > maxLength) throw urlTooLong(maxLength);
  };
}

/**
 * Fastify's `clientErrorHandler` (Node's `clientError` event): the socket gets a complete
 * SCIM answer and is closed. Node cannot route these, so no SCIM scope is involved.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request line and headers are too large']
        : [400, 'the request is not valid HTTP'];
  const body = JSON.stringify(renderErrorBody(status, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${SCIM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Request ids a client may choose: short, and safe to echo in logs and error details. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's `genReqId`: the client's `x-request-id` when it is a plain token (so a caller can
 * correlate its logs with ours), a fresh UUID otherwise. A raw header would let a client put
 * anything into our logs and into the detail of a 500.
 */
export function requestIdOf(request: { headers: Record<string, string | string[] | undefined> }): string {
  const header = request.headers['x-request-id'];
  return typeof header === 'string' && CLIENT_REQUEST_ID.test(header) ? header : randomUUID();
}
