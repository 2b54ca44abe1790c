import type { ErrorCode } from '../lib/errors.js';
import { BridgeError } from '../lib/errors.js';
import type { TargetAction } from '../mapping/types.js';
import { PausedError } from './connection-gate.js';
import { redactBody } from './redact.js';
import { TargetTlsError } from './tls-connect.js';

/**
 * One table that decides what a target's answer means for a delivery job: done, retry later
 * (BullMQ attempts + backoff), back off the whole queue (429, 503 with Retry-After, a paused
 * connection), or fail for good (4xx, an answer over the size cap). Retries
 * happen only in BullMQ, never in the HTTP client, so this table is the single place to change.
 * @see https://docs.bullmq.io/guide/retrying-failing-jobs
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15
 */

export interface CallInfo {
  method: string;
  /** The request path; its query string is left out of reasons (it may carry personal data). */
  path: string;
  /** The mapping action that produced the call. */
  action?: TargetAction['kind'];
  /**
   * Whether 404/410 means the goal is already reached. Defaults to true for DELETE and for the
   * delete, removeMember, removeMembers and lookup actions (a lookup that finds nothing is not a failure).
   */
  goneIsOk?: boolean;
}

export type CallOutcome =
  | {
      status: number;
      headers: Record<string, string | string[] | undefined>;
      bodyText: string;
      /** Set by the client when it dropped an OAuth2 token after this 401: a retry uses a fresh one. */
      staleCredentials?: boolean;
    }
  | { error: unknown };

export type Classification =
  | { kind: 'ok' }
  | { kind: 'retry'; code: ErrorCode; reason: string }
  | { kind: 'rateLimited'; delayMs: number; reason: string }
  | { kind: 'reject'; code: ErrorCode; status?: number; reason: string };

/** Delay used for a 429 without a usable Retry-After. */
export const DEFAULT_RATE_LIMIT_MS = 5_000;
/** Longest pause a target may impose through Retry-After. */
export const MAX_RATE_LIMIT_MS = 60 * 60_000;

const RETRYABLE_STATUS = new Set([408, 425]);
const GONE_STATUS = new Set([404, 410]);
const GONE_IS_OK_ACTIONS = new Set<CallInfo['action']>(['delete', 'removeMember', 'removeMembers', 'lookup']);

/** Error codes of Node and undici meaning "no answer in time". */
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const TIMEOUT_NAMES = new Set(['AbortError', 'TimeoutError']);

/** Error codes meaning the target could not be reached or dropped the connection. */
const UNREACHABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Certificate checks of the target's certificate that failed on the bridge's side (Node's
 * X509_V_ERR names), besides every ERR_SSL_* / ERR_TLS_* code (handshake failures and alerts:
 * the target refused the bridge's client certificate, or there was none).
 */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  // tls-connect.ts: the target closed the session after the handshake, without an alert.
  'TLS_CLOSED_AFTER_HANDSHAKE',
]);

export function isTlsFailureCode(code: string): boolean {
  return CERTIFICATE_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_');
}

export function classifyOutcome(call: CallInfo, outcome: CallOutcome): Classification {
  return 'error' in outcome ? classifyError(call, outcome.error) : classifyResponse(call, outcome);
}

function classifyResponse(call: CallInfo, response: Extract<CallOutcome, { status: number }>): Classification {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const goneIsOk = call.goneIsOk ?? (call.method.toUpperCase() === 'DELETE' || GONE_IS_OK_ACTIONS.has(call.action));
  if (goneIsOk && GONE_STATUS.has(status)) return { kind: 'ok' };

  const answered = `${describe(call)} answered ${status}: ${redactBody(response.bodyText) || '(empty body)'}`;
  const retryAfter = header(response.headers, 'retry-after');
  // A 503 that says when to come back is honoured like a 429: the whole connection waits.
  if (status === 429 || (status === 503 && retryAfter !== undefined && retryAfter.trim() !== '')) {
    const delayMs = retryAfterMs(retryAfter);
    return { kind: 'rateLimited', delayMs, reason: `GW_DELIVERY_RETRYABLE rate limited for ${delayMs} ms: ${answered}` };
  }
  if (status === 401 && response.staleCredentials) {
    return { kind: 'retry', code: 'GW_DELIVERY_AUTH', reason: `GW_DELIVERY_AUTH token refused, retrying with a new one: ${answered}` };
  }
  if (RETRYABLE_STATUS.has(status) || (status >= 500 && status !== 501)) {
    return { kind: 'retry', code: 'GW_DELIVERY_RETRYABLE', reason: `GW_DELIVERY_RETRYABLE ${answered}` };
  }
  return { kind: 'reject', code: 'GW_DELIVERY_REJECTED', status, reason: `GW_DELIVERY_REJECTED ${status} ${answered}` };
}

function classifyError(call: CallInfo, error: unknown): Classification {
  if (error instanceof BridgeError) return classifyBridgeError(call, error);
  const { code, name, message } = errorFacts(error);
  const what = `${describe(call)} failed: ${code ?? name ?? 'error'}${message ? ` ${message}` : ''}`;
  if (error instanceof TargetTlsError || (code && isTlsFailureCode(code))) {
    // Retried like an unreachable target: a certificate being rotated on either side heals itself.
    return { kind: 'retry', code: 'GW_DELIVERY_TLS', reason: `GW_DELIVERY_TLS ${what} (check target.tls: client certificate, key and CA)` };
  }
  if ((code && TIMEOUT_CODES.has(code)) || (name && TIMEOUT_NAMES.has(name))) {
    return { kind: 'retry', code: 'GW_DELIVERY_TIMEOUT', reason: `GW_DELIVERY_TIMEOUT ${what}` };
  }
  if (code && UNREACHABLE_CODES.has(code)) {
    return { kind: 'retry', code: 'GW_DELIVERY_UNREACHABLE', reason: `GW_DELIVERY_UNREACHABLE ${what}` };
  }
  // Unknown failures are retried: attempts are bounded, and losing an accepted change is worse.
  return { kind: 'retry', code: 'GW_DELIVERY_RETRYABLE', reason: `GW_DELIVERY_RETRYABLE ${what}` };
}

/**
 * Errors the client raised itself: a token endpoint that refuses our credentials (4xx) or a
 * request the mapping built wrongly is permanent; a token endpoint that is down is transient.
 */
function classifyBridgeError(call: CallInfo, error: BridgeError): Classification {
  const reason = `${error.code} ${describe(call)}: ${error.message}`;
  // The connection gate held the call back (see connection-gate.ts): wait, do not count an attempt.
  if (error instanceof PausedError) return { kind: 'rateLimited', delayMs: error.delayMs, reason };
  if (error.code !== 'GW_DELIVERY_AUTH') return { kind: 'reject', code: error.code, reason };
  const status = statusOf(error.cause);
  if (status !== undefined && status >= 400 && status < 500 && !RETRYABLE_STATUS.has(status) && status !== 429) {
    return { kind: 'reject', code: 'GW_DELIVERY_AUTH', status, reason };
  }
  return { kind: 'retry', code: 'GW_DELIVERY_AUTH', reason };
}

/** Retry-After as delta-seconds or an HTTP date, clamped to [1 ms, MAX_RATE_LIMIT_MS]. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number {
  if (value === undefined || value.trim() === '') return DEFAULT_RATE_LIMIT_MS;
  const trimmed = value.trim();
  let delayMs: number;
  if (/^\d+$/.test(trimmed)) delayMs = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return DEFAULT_RATE_LIMIT_MS;
    delayMs = at - now;
  }
  return Math.min(MAX_RATE_LIMIT_MS, Math.max(1, delayMs));
}

function describe(call: CallInfo): string {
  const query = call.path.indexOf('?');
  const path = query === -1 ? call.path : `${call.path.slice(0, query)}?…`;
  return `${call.method.toUpperCase()} ${path}`;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
  const value = entry?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/** Code, name and message of an error, looking through `cause` (undici wraps socket errors). */
function errorFacts(error: unknown): { code?: string; name?: string; message?: string } {
  const facts: { code?: string; name?: string; message?: string } = {};
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth += 1) {
    const { code, name, message, cause } = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && (!facts.code || !isKnownCode(facts.code))) facts.code = code;
    if (typeof name === 'string' && (!facts.name || TIMEOUT_NAMES.has(name))) facts.name = name;
    if (typeof message === 'string' && !facts.message) facts.message = message;
    current = cause;
  }
  if (typeof error === 'string') facts.message = error;
  return facts;
}

function isKnownCode(code: string): boolean {
  return TIMEOUT_CODES.has(code) || UNREACHABLE_CODES.has(code) || isTlsFailureCode(code);
}

function statusOf(value: unknown): number | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { status, cause } = value as { status?: unknown; cause?: unknown };
  return typeof status === 'number' ? status : statusOf(cause);
}
