import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseBearer } from '../api/auth.js';
import { sharedCounterOptions, type RequestCounter } from '../api/connection-rate-limit.js';
import { createPasswordVerifier, digestEquals, sha256Hex } from '../auth/secret-hash.js';
import type { AdminConfig } from '../config/schema.js';
import { sendAdminError } from './errors.js';

/**
 * Who may use the ops routes (dashboard, admin API, protected /metrics): HTTP Basic against the
 * configured user and scrypt hash, or a bearer token against SHA-256 digests. The user name is
 * compared as a digest too, and every configured token is always compared, so timing tells
 * nothing about which part was wrong.
 * @see https://www.rfc-editor.org/rfc/rfc7617
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */

export type AdminCheck = (authorization: string | undefined) => Promise<boolean>;

export const ADMIN_REALM = 'scim-bridge admin';

const DEFAULT_LOGIN_LIMIT = { max: 10, windowMs: 60_000 };

export function createAdminCheck(admin: AdminConfig): AdminCheck {
  const verify = createPasswordVerifier();
  const usernameDigest = admin.username === undefined ? undefined : sha256Hex(admin.username);
  return async (authorization) => {
    const basic = parseBasic(authorization);
    if (basic) {
      if (usernameDigest === undefined || admin.passwordHash === undefined) return false;
      const userOk = digestEquals(sha256Hex(basic.username), usernameDigest);
      // The password is checked even for a wrong user name, so both cost the same.
      const passwordOk = await verify(basic.password, admin.passwordHash);
      return userOk && passwordOk;
    }
    const token = parseBearer(authorization);
    if (token === undefined) return false;
    const presented = sha256Hex(token);
    let matched = false;
    for (const expected of admin.tokenHashes) matched = digestEquals(presented, expected) || matched;
    return matched;
  };
}

/**
 * Who presented credentials, for the throttle key: the Basic user name (hashed, it may be a
 * mistyped password) or "bearer". Undefined without credentials: a browser's first, anonymous
 * request before it prompts is no failed login.
 */
function claimedIdentity(authorization: string | undefined): string | undefined {
  const basic = parseBasic(authorization);
  if (basic) return `basic:${sha256Hex(basic.username).slice(0, 16)}`;
  return parseBearer(authorization) === undefined ? undefined : 'bearer';
}

/**
 * Adds the admin check to `scope` as its first onRequest hook: 401 (with the schemes the config
 * accepts) to anyone else, and 429 with Retry-After, without checking, once an address failed
 * `failedLoginLimit.max` logins as one user (or with bearer tokens) within the window. Failures
 * are counted with @fastify/rate-limit in Redis (`counter`), so every process, and the /admin
 * scope and a protected /metrics, share one count; if Redis does not answer, nothing is throttled.
 */
export async function registerAdminAuth(scope: FastifyInstance, admin: AdminConfig, counter: RequestCounter): Promise<void> {
  const check = createAdminCheck(admin);
  const limit = admin.failedLoginLimit ?? DEFAULT_LOGIN_LIMIT;
  const keys = new WeakMap<FastifyRequest, string>();
  let countFailure: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  if (limit !== false) {
    // Only the limiter function is used (no route is limited as such): it counts failures alone.
    await scope.register(rateLimit, { global: false, ...sharedCounterOptions(counter) });
    countFailure = scope.createRateLimit({ max: limit.max, timeWindow: limit.windowMs, keyGenerator: (request) => keys.get(request) ?? request.ip });
  }
  const challenges = [
    ...(admin.passwordHash ? [`Basic realm="${ADMIN_REALM}", charset="UTF-8"`] : []),
    ...(admin.tokenHashes.length > 0 ? [`Bearer realm="${ADMIN_REALM}"`] : []),
  ];
  scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const identity = claimedIdentity(request.headers.authorization);
    // Hashed: the key holds the address and a user name, and its length is then fixed.
    if (identity !== undefined) keys.set(request, sha256Hex(`${request.ip} ${identity}`));
    if (identity !== undefined && countFailure) {
      const state = await countFailure(request, { increment: false });
      if (!state.isAllowed && state.remaining === 0) {
        const seconds = Math.max(1, state.ttlInSeconds);
        request.log.warn({ code: 'GW_AUTH_THROTTLED', route: 'admin' }, 'admin logins throttled after failed attempts');
        reply.headers({ 'retry-after': String(seconds), connection: 'close' });
        return sendAdminError(reply, 429, 'too_many_requests', `too many failed logins; retry in ${seconds} s`);
      }
    }
    if (await check(request.headers.authorization)) return;
    if (identity !== undefined) await countFailure?.(request);
    // Closed after the answer: the body of a refused request is never read.
    reply.headers({ 'www-authenticate': challenges.join(', '), connection: 'close' });
    return sendAdminError(reply, 401, 'unauthorized', 'admin credentials required');
  });
}

function parseBasic(authorization: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
