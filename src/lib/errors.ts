/**
 * Errors of the bridge itself (config, mapping, store, delivery, CLI), as opposed to SCIM
 * protocol errors (`scim/errors.ts`). Every code is listed in docs/errors.md; a test keeps the
 * two in step. Codes follow `GW_<AREA>_<WHAT>`.
 */

export const ERROR_CODES = {
  GW_CONFIG_INVALID: 'The configuration file does not validate.',
  GW_CONFIG_PLACEHOLDER: 'A ${env:…} or ${file:…} placeholder could not be resolved.',
  GW_CONFIG_LITERAL_SECRET: 'A secret is written literally in a config file instead of coming from ${env:…} or ${file:…}.',
  GW_MAP_INVALID: 'A mapping file does not validate (YAML syntax, schema or expression).',
  GW_MAP_EVAL: 'A mapping expression failed while mapping a resource.',
  GW_MAP_NO_TARGET_ID: "The target's create (or lookup) response did not contain the id the mapping points at.",
  GW_MAP_REF_PENDING: 'A `ref:` field names a resource that has no target id yet; the delivery waits and is retried.',
  GW_STORE_UNAVAILABLE: 'Redis did not answer; the change was not accepted.',
  GW_STORE_UNSAFE: 'Redis may evict keys or has no persistence, so accepted changes could be lost (warning at start).',
  GW_DELIVERY_REJECTED: 'The target answered a delivery with a permanent 4xx error.',
  GW_DELIVERY_INVALID_VALUE: 'The target refused a value (a call\'s `on:` rule with `means: invalid`); permanent, with the target\'s detail.',
  GW_DELIVERY_RETRYABLE: 'The target answered with a transient error (5xx, 408) or did not answer; the job will be retried.',
  GW_DELIVERY_TIMEOUT: 'The target did not answer within the connection timeout; the job will be retried.',
  GW_DELIVERY_UNREACHABLE: 'The target could not be reached (connection refused, reset, DNS); the job will be retried.',
  GW_DELIVERY_TLS: "The TLS handshake with the target failed: its certificate did not verify against target.tls.ca (or the system roots), or it refused the bridge's client certificate; the job will be retried.",
  GW_DELIVERY_AUTH: 'The bridge could not obtain a token for the target (OAuth2 token endpoint failed).',
  GW_PROXY_UNREACHABLE: 'A proxied request could not reach the upstream, or the upstream broke the connection (502).',
  GW_PROXY_TIMEOUT: 'The upstream did not answer a proxied request in time (504).',
  GW_DELIVERY_TOO_LARGE: "The target's answer was larger than target.maxResponseBytes; the call fails for good.",
  GW_DELIVERY_PAUSED: "The connection's deliveries are paused (the target asked to slow down, or the circuit breaker is open).",
  GW_DELIVERY_BREAKER_OPEN: "The connection's circuit breaker opened after repeated target failures; deliveries pause and one probe tests the target.",
  GW_DELIVERY_EXPIRED: 'A delivery job grew older than delivery.maxAgeMs and failed for good.',
  GW_PROXY_UNAVAILABLE: 'A mode: proxy connection refused a request at once: its circuit breaker is open or too many requests are in flight (503 with Retry-After).',
  GW_PROXY_BUFFER_FULL: "A mode: proxy connection's write buffer holds proxy.buffer.maxQueued writes; the write got the upstream's failure instead of being buffered.",
  GW_PROXY_BUFFER_UNAVAILABLE: "A mode: proxy connection's write buffer (Redis) did not answer; the write was refused with 503, not forwarded out of order.",
  GW_PROXY_REPLAY_RETRY: 'A buffered write could not be replayed yet (upstream unreachable, 408, 429, 5xx, or it refused the credentials); the buffer waits and tries it again, later writes wait behind it.',
  GW_PROXY_REPLAY_REJECTED: 'The upstream answered a replayed buffered write with a permanent 4xx; the write is in the failed set, later writes go on.',
  GW_PROXY_BUFFER_EXPIRED: 'A buffered write grew older than proxy.buffer.maxAgeMs before the upstream took it; it failed for good.',
  GW_PROXY_REPLAY_SUPERSEDED: 'A retried buffered write was not sent: a later write of the same resource reached the upstream after it failed, and replaying it would undo that write.',
  GW_PROXY_UPSTREAM_AUTH: "The upstream SCIM service refused the bridge's credentials (401/403); Entra got 502.",
  GW_RECONCILE_LIST: "Reconcile could not list the target's resources with the mapping's list rule.",
  GW_AUTH_REJECTED: 'A request to a SCIM route or the token endpoint was refused: no, a wrong, an expired or a revoked credential (logged with the reason, never the credential).',
  GW_AUTH_THROTTLED: 'Token requests (or admin logins) from one address were refused for a while after repeated failed authentications (429 with Retry-After).',
  GW_AUTH_JWKS_UNAVAILABLE: "The external authorisation server's JWKS could not be fetched, so its tokens cannot be checked (the API answers 503).",
  GW_AUTH_SECRET_NOT_FOUND: '`scim-bridge secrets rotate|revoke` named a secret or client that does not exist.',
  GW_CLI_USAGE: 'The command line is not valid.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class BridgeError extends Error {
  override readonly name: string = 'BridgeError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
