import { Pool } from 'undici';
import type { TargetAuth, TargetConfig } from '../config/schema.js';
import type { HttpRequestSpec } from '../mapping/types.js';
import { createTokenSource, type TokenSource } from './oauth2-token.js';
import { joinTargetPath, parseTargetBase } from './target-url.js';

/**
 * The HTTP side of delivery: one keep-alive undici Pool per target, the connection's auth on
 * every call, and a hard timeout. It never retries: a failed call goes back to the classifier
 * and BullMQ decides (house-style §3.4).
 * @see https://undici.nodejs.org/#/docs/api/Pool
 */

export interface TargetResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  bodyText: string;
  /** The parsed body when it is JSON. */
  json?: unknown;
  /** True when this was a 401 to an OAuth2 token that has now been dropped (retry with a new one). */
  staleCredentials?: boolean;
}

export interface TargetClient {
  /** Sends one call. Rejects on network errors and timeouts; any HTTP status resolves. */
  send(spec: HttpRequestSpec): Promise<TargetResponse>;
  close(): Promise<void>;
}

export interface TargetClientOptions {
  /** Most sockets kept open to the target. */
  connections?: number;
}

export function createTargetClient(target: TargetConfig, options: TargetClientOptions = {}): TargetClient {
  const base = parseTargetBase(target.baseUrl);
  const pool = new Pool(base.origin, {
    connections: options.connections ?? 50,
    connect: { timeout: target.timeoutMs },
    headersTimeout: target.timeoutMs,
    bodyTimeout: target.timeoutMs,
  });
  const auth = createAuthHeaders(target.auth, target.timeoutMs);

  return {
    async send(spec) {
      const path = joinTargetPath(base, spec.path);
      const credentials = await auth.headers();
      const headers: Record<string, string> = {
        accept: 'application/json',
        ...lowerCaseKeys(target.headers),
        ...lowerCaseKeys(spec.headers),
        ...credentials.headers,
      };
      let body: string | undefined;
      if (spec.body !== undefined) {
        body = JSON.stringify(spec.body);
        // A mapping may name a JSON flavour (e.g. application/merge-patch+json); default to plain JSON.
        headers['content-type'] ??= 'application/json';
      }
      const response = await pool.request({
        origin: base.origin,
        path,
        method: spec.method,
        headers,
        body,
        signal: AbortSignal.timeout(target.timeoutMs),
      });
      const bodyText = await response.body.text();
      const result: TargetResponse = { status: response.statusCode, headers: flattenHeaders(response.headers), bodyText };
      const json = parseJson(bodyText);
      if (json !== undefined) result.json = json;
      if (response.statusCode === 401 && credentials.token !== undefined) {
        auth.invalidate(credentials.token);
        result.staleCredentials = true;
      }
      return result;
    },
    async close() {
      await pool.close();
    },
  };
}

interface AuthHeaders {
  headers(): Promise<{ headers: Record<string, string>; token?: string }>;
  invalidate(token: string): void;
}

function createAuthHeaders(auth: TargetAuth, timeoutMs: number): AuthHeaders {
  const fixed = (headers: Record<string, string>): AuthHeaders => ({
    headers: () => Promise.resolve({ headers }),
    invalidate: () => undefined,
  });
  switch (auth.type) {
    case 'none':
      return fixed({});
    case 'bearer':
      return fixed({ authorization: `Bearer ${auth.token}` });
    case 'basic':
      return fixed({ authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` });
    case 'apiKey':
      return fixed({ [auth.header.toLowerCase()]: auth.value });
    case 'oauth2': {
      const tokens: TokenSource = createTokenSource(auth, { timeoutMs });
      return {
        async headers() {
          const token = await tokens.getToken();
          return { headers: { authorization: `Bearer ${token}` }, token };
        },
        invalidate: (token) => tokens.invalidate(token),
      };
    }
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) flat[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
