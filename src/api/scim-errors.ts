import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { scimError } from '../scim/error-catalog.js';
import { renderErrorBody, ScimError } from '../scim/errors.js';
import { StoreContentionError } from '../store/types.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/**
 * The SCIM scope's error handler: every failure leaves as an RFC 7644 §3.12 body with
 * `application/scim+json`. Only ScimError details are shown; anything unexpected becomes a
 * generic 500 naming the request id (the log has the rest), and a Redis outage a 503, so Entra
 * retries instead of treating the change as rejected.
 */
export function scimErrorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body, headers } = scimErrorOf(error, request);
  // An outage is one known condition, not a bug: one line per request, without a stack.
  if (status === 503 && isStoreUnavailable(error)) request.log.warn({ code: 'GW_STORE_UNAVAILABLE', reason: outageReason(error) }, 'store unavailable');
  // So is a resource too busy to write (concurrent writers kept winning): Entra retries it.
  else if (status === 503 && isBusy(error)) request.log.warn({ scimCode: 'RESOURCE_BUSY' }, 'resource busy, answered 503 with Retry-After');
  else if (status >= 500) request.log.error({ err: error, code: (error as { code?: string }).code }, 'scim request failed');
  else request.log.info({ status, scimType: body.scimType, scimCode: (error as ScimError).code }, 'scim request rejected');
  void reply.code(status).headers(headers).type(SCIM_CONTENT_TYPE).send(body);
}

function isBusy(error: Error): boolean {
  return error instanceof StoreContentionError || (error instanceof ScimError && error.code === 'RESOURCE_BUSY');
}

/** The status, SCIM body and headers an error is answered with (also one bulk operation's `response`). */
export function scimErrorOf(error: Error, request: FastifyRequest) {
  if (error instanceof ScimError) {
    // A catalogued error's detail is a fixed template filled with server-known names only
    // (scim/error-catalog.ts): nothing to scrub. Uncatalogued details (the target's own reason
    // in first-attempt mode) are still scrubbed of quoted and email-shaped text.
    const detail = error.code === undefined ? redactSubmittedValues(error.detail) : error.detail;
    return { status: error.status, body: renderErrorBody(error.status, detail, error.scimType), headers: error.headers };
  }
  // Nothing was written; Entra retries a 503.
  if (error instanceof StoreContentionError) return scimErrorOf(scimError('RESOURCE_BUSY', {}, { 'retry-after': '1' }), request);
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return plain(413, 'request body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: renderErrorBody(400, 'request body is empty or malformed', 'invalidSyntax'), headers: {} };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return plain(415, 'unsupported Content-Type: send application/scim+json');
    default:
  }
  if (fastifyError.validation) {
    return { status: 400, body: renderErrorBody(400, fastifyError.message, 'invalidSyntax'), headers: {} };
  }
  // Any other client error Fastify or a plugin raises keeps its status; its message may quote
  // the request, so the detail is the status's fixed phrase.
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return plain(status, STATUS_CODES[status] ?? 'bad request');
  if (isStoreUnavailable(error)) {
    return { status: 503, body: renderErrorBody(503, 'the bridge cannot store changes right now; retry later'), headers: { 'retry-after': '30' } };
  }
  return plain(500, `internal error (request ${request.id})`);
}

function plain(status: number, detail: string) {
  return { status, body: renderErrorBody(status, detail), headers: {} as Record<string, string> };
}

/**
 * Quoted literals (terminated or not) and email-shaped tokens. Details built by lower layers
 * sometimes quote what the client sent (a filter parser's "unexpected token", a PATCH path's
 * value filter, an unknown URL), and those values are user names and emails: PII that must not
 * travel back in an error body or into Entra's provisioning logs (house-style §3.4).
 *
 * Linear time by construction: each alternative succeeds wherever it starts (a quoted literal
 * runs to its closing quote or the end, a token is a maximal run of non-delimiters), so the
 * engine never rescans a character. The email test happens on the matched token, not in the
 * pattern: `[^…]*@` would scan to the end from every position of a long run without `@`.
 */
const SUBMITTED_VALUE = /"(?:[^"\\]|\\[\s\S])*(?:"|\\?$)|[^\s"',()[\]]+/g;

/** A detail with every submitted value replaced by an ellipsis; the reason stays readable. */
export function redactSubmittedValues(detail: string): string {
  return detail.replace(SUBMITTED_VALUE, (value) => (value.startsWith('"') ? '"…"' : value.includes('@') ? '…' : value));
}

/** What went wrong with Redis, in a few words (an error code or ioredis's first line). */
function outageReason(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message.split('\n', 1)[0]!.slice(0, 120);
}

/** ioredis failures that mean "Redis is not there right now" rather than a bug. */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return /Connection is closed|Stream isn't writeable|Command timed out|^LOADING|^READONLY|^OOM|^MASTERDOWN|^CLUSTERDOWN|^TRYAGAIN/.test(
    error.message,
  );
}
