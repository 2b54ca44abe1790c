import type { ErrorCode } from '../lib/errors.js';
import { isTlsFailureCode } from '../delivery/classify.js';

/**
 * What a failed forward means for the caller: 504 when the upstream was too slow, 502 when it
 * could not be reached or broke the connection. The detail names the situation only, never the
 * upstream's address or the error text (which can carry internal host names).
 */
export interface UpstreamFailure {
  status: 502 | 504;
  code: Extract<ErrorCode, 'GW_PROXY_UNREACHABLE' | 'GW_PROXY_TIMEOUT'>;
  detail: string;
  /** The TLS failure's code (for the log, not the caller), when the session could not be set up. */
  tls?: string;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'FST_REPLY_FROM_GATEWAY_TIMEOUT',
  'FST_REPLY_FROM_TIMEOUT',
  'ETIMEDOUT',
  'TimeoutError',
]);

export function classifyUpstreamError(error: unknown): UpstreamFailure {
  const codes = errorCodes(error);
  if (codes.some((code) => TIMEOUT_CODES.has(code))) {
    return { status: 504, code: 'GW_PROXY_TIMEOUT', detail: 'the upstream did not answer in time' };
  }
  const tls = codes.find(isTlsFailureCode);
  if (tls !== undefined) {
    return { status: 502, code: 'GW_PROXY_UNREACHABLE', detail: 'the TLS handshake with the upstream failed', tls };
  }
  return { status: 502, code: 'GW_PROXY_UNREACHABLE', detail: 'the upstream could not be reached or broke the connection' };
}

/** `code` and `name` of an error and of its causes (reply-from and undici wrap each other). */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const { code, name, cause } = current as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof code === 'string') codes.push(code);
    if (typeof name === 'string') codes.push(name);
    current = cause;
  }
  return codes;
}
