import { z } from 'zod';
import { checkUniqueExtensions, extensionSchema } from './extension-schema.js';

/**
 * The bridge's configuration (`config/*.yaml`), validated once at start and frozen.
 * Secrets are plain strings here; `load.ts` makes sure they came from `${env:…}` or `${file:…}`.
 */

const secret = z.string().min(1, 'must not be empty');

export const targetAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('bearer'), token: secret }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1), password: secret }).strict(),
  z
    .object({
      type: z.literal('apiKey'),
      /** Header that carries the key. */
      header: z.string().min(1).default('x-api-key'),
      value: secret,
    })
    .strict(),
  z
    .object({
      type: z.literal('oauth2'),
      tokenUrl: z.url(),
      clientId: z.string().min(1),
      clientSecret: secret,
      scope: z.string().optional(),
      /** How the client authenticates at the token endpoint. */
      clientAuth: z.enum(['basic', 'post']).default('basic'),
    })
    .strict(),
]);
export type TargetAuth = z.infer<typeof targetAuthSchema>;

/**
 * TLS towards the target: a client certificate (mutual TLS) and/or the CA bundle that signs the
 * target's certificate, all from PEM files (paths relative to the config file). Verification of
 * the target's certificate is always on; `ca` replaces the system roots for this target.
 */
const pemPath = z.string().min(1, 'a path to a PEM file');
export const targetTlsSchema = z
  .object({
    /** Client certificate (PEM; intermediates may follow it in the same file). */
    cert: pemPath.optional(),
    /** Its private key (PEM). */
    key: pemPath.optional(),
    /** Passphrase of an encrypted key, from ${env:…} or ${file:…}. */
    passphrase: secret.optional(),
    /** CA certificates (PEM bundle) trusted for the target instead of the system roots. */
    ca: pemPath.optional(),
    /** Name checked against the target's certificate (and sent as SNI) instead of the URL's host. */
    servername: z.string().regex(/^[A-Za-z0-9.-]+$/, 'a DNS name').optional(),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: [tls.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together' });
    }
    if (tls.passphrase !== undefined && tls.key === undefined) {
      ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'a passphrase needs a key' });
    }
    if (tls.cert === undefined && tls.ca === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give cert and key (mutual TLS), ca, or both' });
    }
  });
export type TargetTlsConfig = z.infer<typeof targetTlsSchema>;

export const targetSchema = z
  .object({
    /** Base URL of the application's REST API; every mapped path is appended to it. */
    baseUrl: z.url(),
    auth: targetAuthSchema.default({ type: 'none' }),
    /** Per-call timeout; a timeout is a retryable failure. */
    timeoutMs: z.number().int().positive().default(10_000),
    /** Extra headers sent on every call (not secrets: use auth for those). */
    headers: z.record(z.string(), z.string()).default({}),
    /** Client certificate and CA for https targets; also used for the OAuth2 token endpoint. */
    tls: targetTlsSchema.optional(),
    /** Largest answer body read from the target; a larger one fails the call for good. */
    maxResponseBytes: z.number().int().min(1_024).default(2 * 1024 * 1024),
    /**
     * Webhook targets: every call's body is signed with HMAC-SHA256 of this secret, sent as
     * `<header>: sha256=<hex>` (with the Unix time signed too, in `<header>-Timestamp`).
     */
    signing: z
      .object({
        secret,
        header: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name').default('X-Signature'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((target) => target.tls === undefined || /^https:/i.test(target.baseUrl), {
    message: 'tls needs an https:// baseUrl',
    path: ['tls'],
  });
export type TargetConfig = z.infer<typeof targetSchema>;

/** Failed jobs kept by default: the last 10,000, for 30 days. */
export const FAILED_RETENTION = { maxAgeHours: 30 * 24, maxCount: 10_000 } as const;
export const confirmSchema = z
  .object({
    /**
     * `async`: answer as soon as the change is durable. `first-attempt`: wait (at most `waitMs`)
     * for the first delivery attempt; a permanent target rejection becomes the SCIM error and
     * the change is rolled back.
     */
    mode: z.enum(['async', 'first-attempt']).default('async'),
    waitMs: z.number().int().min(100).max(60_000).default(5_000),
  })
  .strict();
export type ConfirmConfig = z.infer<typeof confirmSchema>;

export const breakerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Opens after this many transient failures in a row. */
    consecutiveFailures: z.number().int().min(1).default(10),
    /** Or when at least this share of the calls in `windowMs` failed (and there were `minCalls`). */
    errorRate: z.number().gt(0).max(1).default(0.5),
    minCalls: z.number().int().min(1).default(20),
    windowMs: z.number().int().min(1_000).default(30_000),
    /** First pause when the breaker opens; doubles after each failed probe, up to maxCooldownMs. */
    cooldownMs: z.number().int().min(100).default(5_000),
    maxCooldownMs: z.number().int().min(100).default(5 * 60_000),
  })
  .strict();
export type BreakerConfig = z.infer<typeof breakerSchema>;

export const deliverySchema = z
  .object({
    /** Attempts per job before it lands in the failed set. */
    attempts: z.number().int().min(1).default(12),
    /** First retry delay; doubles each attempt, with jitter, capped by maxBackoffMs. */
    backoffMs: z.number().int().min(1).default(1_000),
    maxBackoffMs: z.number().int().min(1).default(15 * 60_000),
    /** Jobs of this connection run at once per worker process. */
    concurrency: z.number().int().min(1).max(1_000).default(10),
    /** Optional ceiling on target calls: at most `max` jobs per `durationMs`. */
    rateLimit: z
      .object({ max: z.number().int().min(1), durationMs: z.number().int().min(1) })
      .strict()
      .optional(),
    /**
     * How long failed jobs stay for ops to inspect and retry: BullMQ drops the oldest failed
     * jobs beyond `maxCount`, and those older than `maxAgeHours`, whenever another job fails.
     */
    failedRetention: z
      .object({
        maxAgeHours: z.number().int().min(1).default(FAILED_RETENTION.maxAgeHours),
        maxCount: z.number().int().min(1).default(FAILED_RETENTION.maxCount),
      })
      .strict()
      .optional(),
    /** When a SCIM write answers: once durable (`async`) or after its first delivery attempt. */
    confirm: confirmSchema.default(confirmSchema.parse({})),
    /** Pauses the connection's deliveries while its target keeps failing. */
    breaker: breakerSchema.default(breakerSchema.parse({})),
    /**
     * How stale a worker process's view of the connection gate may be. A pause or an open breaker
     * recorded by another worker process holds this process's calls within this many ms (what
     * this process itself records holds them at once), and successful calls reach the breaker's
     * counts in batches this often. 0 asks Redis before and after every call.
     */
    gateSyncMs: z.number().int().min(0).max(1_000).default(20),
    /** A job older than this fails for good (GW_DELIVERY_EXPIRED) instead of trying again. */
    maxAgeMs: z.number().int().min(1_000).default(7 * 24 * 60 * 60_000),
    /**
     * How long a worker's job lock lives without renewal; a job of a killed worker is picked up
     * by another within about `lockDurationMs + stalledIntervalMs`.
     */
    lockDurationMs: z.number().int().min(1_000).default(15_000),
    /** How often workers look for jobs whose lock expired (stalled jobs). */
    stalledIntervalMs: z.number().int().min(500).default(5_000),
    /** Times a job may stall (its worker died) before it fails for good. */
    maxStalledCount: z.number().int().min(0).default(20),
  })
  .strict();
export type DeliveryConfig = z.infer<typeof deliverySchema>;

/**
 * Pass-through: where every request that is not one of the bridge's own routes is forwarded
 * (the bridge as the application's front door, docs/reverse-proxy.md). Bodies are streamed.
 */
export const upstreamSchema = z
  .object({
    /** Origin (and optional base path) of the application, e.g. http://app:3000. */
    url: z.url().refine((u) => /^https?:/i.test(u), 'must be an http:// or https:// URL'),
    /** Longest wait for the answer's headers, and longest silence inside a streamed body. */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Longest wait for the TCP/TLS connection. */
    connectTimeoutMs: z.number().int().positive().default(5_000),
    /** Most sockets open to the application at once; more requests wait for a free one. */
    connections: z.number().int().min(1).max(10_000).default(256),
    /** Also proxy WebSocket upgrades (for applications that use them). */
    websocket: z.boolean().default(false),
  })
  .strict();
export type UpstreamConfig = z.infer<typeof upstreamSchema>;

/** A connection's own pass-through: requests under `prefix` go to its application. */
export const connectionUpstreamSchema = upstreamSchema
  .extend({
    /** Path prefix owned by this connection's application, e.g. /acme for /acme/scim/v2. */
    prefix: z.string().regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must start with "/" and have no trailing "/", e.g. /acme'),
  })
  .strict();
export type ConnectionUpstreamConfig = z.infer<typeof connectionUpstreamSchema>;
/** An OAuth scope token (RFC 6749 §3.3). */
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is printable ASCII without spaces, quotes or backslashes');

/** A secret, or its hash `sha256:<64 hex>` (which may be written literally). */
const secretOrHash = secret.describe('a secret from ${env:…}/${file:…}, or its hash "sha256:<64 hex digits>"');

/**
 * How Entra authenticates to this connection. Any combination works; secrets made with
 * `scim-bridge secrets create` are accepted too, whatever is configured here.
 */
export const connectionAuthSchema = z
  .object({
    /** Accepted bearer secrets (or their sha256: hashes). List two during a rotation, then remove the old one. */
    bearer: z.array(secretOrHash).default([]),
    /**
     * Longest time a secret created, rotated or revoked with `scim-bridge secrets` goes unseen by
     * a running API (it caches the list it read from Redis this long).
     */
    managedSecretsCacheMs: z.number().int().min(0).max(300_000).default(5_000),
    /** The bridge's own OAuth2 token endpoint (client credentials grant) for this connection. */
    oauth2: z
      .object({
        /** Path of the token endpoint. Default `/<id>/oauth2/token`. */
        tokenPath: z
          .string()
          .regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must start with "/" and have no trailing "/", e.g. /acme/oauth2/token')
          .optional(),
        /** Lifetime of the access tokens it issues (Entra expects 1 to 6 hours). */
        tokenTtlSeconds: z.number().int().min(60).max(6 * 3600).default(3600),
        /**
         * Scopes a client may ask for. Empty (default): a requested scope is ignored, as Entra
         * sends none. Otherwise a scope outside this list is refused with invalid_scope.
         */
        scopes: z.array(scopeToken).default([]),
        /** Clients from config, besides those made with `scim-bridge secrets create --kind client`. */
        clients: z
          .array(z.object({ id: z.string().regex(/^[\x21-\x7e]{1,128}$/, 'printable ASCII, no spaces'), secret: secretOrHash }).strict())
          .default([]),
        /** HS256 signing key (at least 32 characters). Default: a random key kept in Redis. */
        signingKey: secret.min(32, 'use at least 32 characters (256 bits)').optional(),
        /**
         * Failed client authentications allowed per client id and source address within
         * `windowMs`; more attempts are answered 429 with Retry-After, without checking them,
         * until the window ends. Per API process. `false` turns it off.
         */
        failedAuthLimit: z
          .union([
            z.literal(false),
            z
              .object({ max: z.number().int().min(1).default(10), windowMs: z.number().int().min(1_000).default(60_000) })
              .strict(),
          ])
          .default({ max: 10, windowMs: 60_000 }),
      })
      .strict()
      .optional(),
    /** Access tokens of an external authorisation server, checked against its JWKS. */
    jwt: z
      .object({
        issuer: z.string().min(1),
        audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
        jwksUrl: z.url(),
        /** Scopes (`scope`, `scp` or `roles` claim) the token must carry. */
        requiredScopes: z.array(scopeToken).default([]),
        algorithms: z
          .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
          .min(1)
          .default(['RS256', 'PS256', 'ES256', 'EdDSA']),
        clockToleranceSeconds: z.number().int().min(0).max(300).default(60),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ConnectionAuthConfig = z.infer<typeof connectionAuthSchema>;

/**
 * What one request may cost the bridge. Every bound applies before the input is used, and
 * going over it is a SCIM error naming the limit, never a slow answer or a 500. The defaults
 * are far above anything Entra sends (docs/configuration.md lists them).
 */
export const limitsSchema = z
  .object({
    /** Largest request body, in bytes (413 above it). */
    bodyBytes: z.number().int().min(1_024).default(1_048_576),
    /** Largest request head (request line and headers), in bytes (431 above it). */
    headerBytes: z.number().int().min(1_024).max(1_048_576).default(16_384),
    /** Longest request URL, path and query, in characters (414 above it). */
    urlLength: z.number().int().min(256).default(8_192),
    /** Longest attribute path in a PATCH operation, `attributes` or `excludedAttributes`. */
    pathLength: z.number().int().min(16).default(512),
    /** Longest `filter` expression, in characters. */
    filterLength: z.number().int().min(64).default(4_096),
    /** Deepest nesting of objects and arrays in a request body. */
    nestingDepth: z.number().int().min(4).max(1_000).default(64),
    /** Longest resource id, in a URL or as a member or manager reference. */
    idLength: z.number().int().min(36).max(4_096).default(256),
    /** The whole request (head and body) must arrive within this; 0 turns it off. */
    requestTimeoutMs: z.number().int().min(0).default(30_000),
    /** The request head must arrive within this (at most requestTimeoutMs when that is set). */
    headersTimeoutMs: z.number().int().min(1).default(10_000),
    /** A socket with no traffic at all for this long is closed; 0 turns it off. */
    idleTimeoutMs: z.number().int().min(0).default(60_000),
  })
  .strict()
  .refine((limits) => limits.requestTimeoutMs === 0 || limits.headersTimeoutMs <= limits.requestTimeoutMs, {
    message: 'headersTimeoutMs must not exceed requestTimeoutMs',
    path: ['headersTimeoutMs'],
  });
export type LimitsConfig = z.infer<typeof limitsSchema>;

/**
 * Optional ceiling on SCIM requests per connection, answered 429 with Retry-After. Off by
 * default: Entra backs off a throttled application for a long time, so it is a last resort.
 */
export const inboundRateLimitSchema = z
  .object({
    /** Requests allowed per window, per connection and API process. */
    max: z.number().int().min(1),
    windowMs: z.number().int().min(100).default(1_000),
  })
  .strict();

const connectionId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use lower-case letters, digits and "-" (it appears in URLs and queue names)');

/** The named request/response rewrites of a `mode: proxy` connection (docs/reverse-proxy.md). */
export const PROXY_REWRITES = [
  'lowercaseOps',
  'booleanStrings',
  'memberRemoveValueArray',
  'expandDottedPaths',
  'managerAsObject',
  'dropNulls',
  'emptyValueAsRemove',
  'membersFilterValue',
] as const;
export type ProxyRewrite = (typeof PROXY_REWRITES)[number];

export const proxyBufferSchema = z
  .object({
    /** Accept writes into the buffer when the upstream is unreachable, answers 502/503/504 or the circuit is open. */
    writes: z.boolean().default(false),
    /** A buffered write older than this fails for good (GW_PROXY_BUFFER_EXPIRED) instead of being replayed. */
    maxAgeMs: z.number().int().min(1_000).default(24 * 60 * 60_000),
    /** Most writes waiting in the buffer; past it, a write gets the upstream's failure (503/502) as without buffering. */
    maxQueued: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Status answered for a buffered write: 202 Accepted (default) or 204 No Content. */
    status: z.union([z.literal(202), z.literal(204)]).default(202),
    /** First wait after a transient replay failure; doubles each time, up to maxBackoffMs. */
    backoffMs: z.number().int().min(10).default(1_000),
    maxBackoffMs: z.number().int().min(10).default(60_000),
    /** Rejected (4xx) and expired replays kept in the failed set for ops. */
    failedRetention: z
      .object({
        maxAgeHours: z.number().int().min(1).default(FAILED_RETENTION.maxAgeHours),
        maxCount: z.number().int().min(1).default(FAILED_RETENTION.maxCount),
      })
      .strict()
      .default({ ...FAILED_RETENTION }),
  })
  .strict();
export type ProxyBufferConfig = z.infer<typeof proxyBufferSchema>;

export const proxySchema = z
  .object({
    /** Rewrites turning Entra's dialect into strict RFC 7644; all of them unless listed. */
    rewrites: z.array(z.enum(PROXY_REWRITES)).default([...PROXY_REWRITES]),
    /** Requests forwarded at once; more get 503 with Retry-After instead of queueing. */
    maxInFlight: z.number().int().min(1).max(10_000).default(64),
    /** Largest upstream answer the bridge reads (it rewrites SCIM answers, so it buffers them). */
    maxResponseBytes: z.number().int().min(1_024).default(10 * 1_048_576),
    breaker: z
      .object({
        /** Consecutive failures (unreachable, timeout, 502/503/504) that open the circuit. */
        failures: z.number().int().min(1).default(5),
        /** How long an open circuit answers 503 before one trial request goes through. */
        openMs: z.number().int().min(100).default(30_000),
      })
      .strict()
      .default({ failures: 5, openMs: 30_000 }),
    /**
     * Write buffering while the upstream is down (off by default): PUT, PATCH and DELETE of a
     * known resource are accepted into a durable queue and replayed in order (docs/reverse-proxy.md).
     */
    buffer: proxyBufferSchema.optional(),
  })
  .strict();
export type ProxyConfig = z.infer<typeof proxySchema>;

export const connectionSchema = z
  .object({
    id: connectionId,
    /** Name shown on the dashboard and in `scim-bridge status`; defaults to the id. */
    displayName: z.string().min(1).max(100).optional(),
    /** SCIM base path; Entra's Tenant URL is `<publicUrl><basePath>`. Default `/<id>/scim/v2`. */
    basePath: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must start with "/" and have no trailing "/", e.g. /acme/scim/v2')
      .optional(),
    auth: connectionAuthSchema.default({ bearer: [], managedSecretsCacheMs: 5_000 }),
    /**
     * `bridge` (default): the bridge stores SCIM and delivers to a REST API through a mapping.
     * `proxy`: the target is itself a SCIM endpoint; requests are rewritten and forwarded.
     */
    mode: z.enum(['bridge', 'proxy']).default('bridge'),
    /** The application's REST API (bridge mode), or its SCIM base URL (proxy mode). */
    target: targetSchema,
    /** Mapping file, relative to the config file (bridge mode only). */
    mapping: z.string().min(1).optional(),
    /** Options of a `mode: proxy` connection. */
    proxy: proxySchema.optional(),
    delivery: deliverySchema.default(deliverySchema.parse({})),
    /** A scheduled `scim-bridge reconcile` (needs `list:` rules in the mapping). */
    reconcile: z
      .object({ every: z.number().int().min(60_000).describe('Interval in ms between reconcile runs (at least a minute).') })
      .strict()
      .optional(),
    /** Pass-through of this connection's application paths (overrides the top-level upstream there). */
    upstream: connectionUpstreamSchema.optional(),
    /** Optional throttle of this connection's SCIM requests (off by default). */
    rateLimit: inboundRateLimitSchema.optional(),
    /** Custom SCIM schema extensions this connection accepts, advertises and stores (docs/configuration.md). */
    extensions: z.array(extensionSchema).default([]),
  })
  .strict()
  .superRefine((connection, ctx) => checkUniqueExtensions(connection.extensions, ['extensions'], ctx))
  // Checked even when other keys of the connection are wrong, so a missing mapping is reported
  // together with them.
  .refine((c: { mode?: unknown; mapping?: unknown } | null) => typeof c !== 'object' || c === null || c.mode === 'proxy' || c.mapping !== undefined, {
    message: 'is required (unless mode: proxy)',
    path: ['mapping'],
    when: () => true,
  });
export type ConnectionConfig = z.infer<typeof connectionSchema> & {
  basePath: string;
  /** Absolute mapping path; undefined for `mode: proxy` connections, which have no mapping. */
  mappingPath?: string;
  displayName: string;
  /** Path of the OAuth2 token endpoint, when `auth.oauth2` is set. */
  tokenPath?: string;
};

const listenSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65_535).default(8080),
  })
  .strict();

export const adminSchema = z
  .object({
    /** Basic credentials of the dashboard and admin API. */
    username: z.string().min(1).optional(),
    /** The password itself, from `${env:…}` or `${file:…}`; hashed with scrypt at load. */
    password: secret.optional(),
    /** Or its scrypt hash (`scim-bridge hash-password`), which may be written in the file. */
    passwordHash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+$/, 'must be a scrypt$N$r$p$salt$key hash (scim-bridge hash-password)').optional(),
    /** Bearer tokens for scripts, from `${env:…}` or `${file:…}`; kept as SHA-256 digests. */
    tokens: z.array(secret).default([]),
    /** Or their SHA-256 digests in lower-case hex (`scim-bridge hash-password --token`). */
    tokenHashes: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 digest in lower-case hex')).default([]),
    /**
     * Failed logins (Basic or bearer) allowed per source address and user name within
     * `windowMs`; more get 429 with Retry-After, unchecked, until the window ends. `false`: off.
     */
    failedLoginLimit: z
      .union([
        z.literal(false),
        z.object({ max: z.number().int().min(1).default(10), windowMs: z.number().int().min(1_000).default(60_000) }).strict(),
      ])
      .default({ max: 10, windowMs: 60_000 }),
    /** What the dashboard and admin API may change; read-only by default. */
    allow: z
      .object({
        /** Retry failed jobs (one or all of a queue). */
        retry: z.boolean().default(false),
        /** Discard jobs (clean a state, remove one job). */
        clean: z.boolean().default(false),
        /** Run delayed jobs now. */
        promote: z.boolean().default(false),
      })
      .strict()
      .default({ retry: false, clean: false, promote: false }),
  })
  .strict()
  .superRefine((admin, ctx) => {
    if (admin.password !== undefined && admin.passwordHash !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['passwordHash'], message: 'give password or passwordHash, not both' });
    }
    const hasPassword = admin.password !== undefined || admin.passwordHash !== undefined;
    if (hasPassword !== (admin.username !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [hasPassword ? 'username' : 'password'], message: 'username and password go together' });
    }
    if (!hasPassword && admin.tokens.length === 0 && admin.tokenHashes.length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give username + password (or passwordHash), or tokens (or tokenHashes)' });
    }
  });

/** The admin settings as the bridge uses them: only hashes are kept after load. */
export interface AdminConfig {
  username?: string;
  passwordHash?: string;
  tokenHashes: string[];
  allow: { retry: boolean; clean: boolean; promote: boolean };
  /** Login throttle; absent means the default (10 failures per address and user a minute). */
  failedLoginLimit?: { max: number; windowMs: number } | false;
}

export const metricsSchema = z
  .object({
    /** Serve Prometheus metrics at /metrics. */
    enabled: z.boolean().default(true),
    /** Serve /metrics without credentials (wherever it is served). */
    public: z.boolean().default(false),
    /**
     * Bearer tokens that open /metrics and nothing else (for Prometheus), from `${env:…}` or
     * `${file:…}`; kept as SHA-256 digests. The admin credentials open it too.
     */
    tokens: z.array(secret).default([]),
    /** Or their SHA-256 digests in lower-case hex (`scim-bridge hash-password --token`). */
    tokenHashes: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 digest in lower-case hex')).default([]),
    /**
     * A separate listener for /metrics, /livez and /readyz (bind it to a private interface);
     * the main listener then has no /metrics. Worker-only processes need it to be probed and
     * scraped at all. /metrics there asks for the same credentials, unless `public`.
     */
    listen: listenSchema.optional(),
  })
  .strict();
/** The metrics settings as the bridge uses them: scrape tokens only as digests. */
export type MetricsConfig = Omit<z.infer<typeof metricsSchema>, 'tokens'>;

export const timelineSchema = z
  .object({
    /** Most events kept per resource (SCIM changes and delivery attempts); older ones are trimmed. */
    maxEntries: z.number().int().min(1).max(10_000).default(100),
    /** A resource's timeline expires this long after its last event. */
    maxAgeHours: z.number().int().min(1).default(30 * 24),
  })
  .strict();
export type TimelineConfig = z.infer<typeof timelineSchema>;

export const configSchema = z
  .object({
    listen: listenSchema.default({ host: '127.0.0.1', port: 8080 }),
    /** The URL Entra uses to reach this bridge (for Tenant URLs and `meta.location`). */
    publicUrl: z.url().optional(),
    redis: z
      .object({
        url: z.string().default('redis://127.0.0.1:6379'),
        /** Prefix of every Redis key the bridge writes. */
        prefix: z
          .string()
          .regex(/^[A-Za-z0-9_{}-]+$/, 'use letters, digits, "_", "-" and, for one Redis Cluster slot for everything, a {hash tag}')
          .default('scim-bridge'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'scim-bridge' }),
    /** Credentials of the ops routes (/admin, /metrics). Without them, those routes are not served. */
    admin: adminSchema.optional(),
    metrics: metricsSchema.default(metricsSchema.parse({})),
    timeline: timelineSchema.default(timelineSchema.parse({})),
    /** Pass-through of every path that is not the bridge's own (docs/reverse-proxy.md). */
    upstream: upstreamSchema.optional(),
    limits: limitsSchema.default(limitsSchema.parse({})),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** On SIGTERM, how long running target calls may take to finish before their jobs are handed back. */
    shutdown: z.object({ graceMs: z.number().int().min(0).default(10_000) }).strict().default({ graceMs: 10_000 }),
    connections: z.array(connectionSchema).min(1, 'define at least one connection'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const ids = new Set<string>();
    const paths = new Set<string>();
    config.connections.forEach((c, i) => {
      if (ids.has(c.id)) ctx.addIssue({ code: 'custom', path: ['connections', i, 'id'], message: `duplicate connection id "${c.id}"` });
      ids.add(c.id);
      const basePath = c.basePath ?? `/${c.id}/scim/v2`;
      if (paths.has(basePath))
        ctx.addIssue({ code: 'custom', path: ['connections', i, 'basePath'], message: `base path ${basePath} is used twice` });
      paths.add(basePath);
      if (c.mode === 'bridge' && c.proxy !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['connections', i, 'proxy'], message: 'proxy options need mode: proxy' });
      }
      const prefix = c.upstream?.prefix;
      if (prefix !== undefined && (prefix === basePath || prefix.startsWith(`${basePath}/`))) {
        ctx.addIssue({ code: 'custom', path: ['connections', i, 'upstream', 'prefix'], message: `must not lie inside the SCIM base path ${basePath}` });
      }
      if (c.auth.oauth2) {
        const tokenPath = c.auth.oauth2.tokenPath ?? `/${c.id}/oauth2/token`;
        if (paths.has(tokenPath))
          ctx.addIssue({ code: 'custom', path: ['connections', i, 'auth', 'oauth2', 'tokenPath'], message: `path ${tokenPath} is used twice` });
        paths.add(tokenPath);
      }
    });
  });

export type RawConfig = z.infer<typeof configSchema>;

/** The validated, resolved and frozen configuration every part of the bridge receives. */
export interface BridgeConfig extends Omit<RawConfig, 'connections' | 'admin' | 'metrics'> {
  /** Absolute path of the file it was loaded from (undefined when built in code, e.g. tests). */
  file?: string;
  connections: ConnectionConfig[];
  admin?: AdminConfig;
  metrics: MetricsConfig;
}
