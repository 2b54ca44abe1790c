import { createHmac } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { Pool, type Dispatcher } from 'undici';
import type { TargetAuth, TargetConfig } from '../config/schema.js';
import { loadTargetTls, type TargetTlsMaterial } from '../config/target-tls.js';
import { BridgeError } from '../lib/errors.js';
import type { HttpRequestSpec } from '../mapping/types.js';
import { createTokenSource, type TokenSource } from './oauth2-token.js';
import { joinTargetPath, parseTargetBase } from './target-url.js';
import { targetConnect } from './tls-connect.js';

/**
 * The HTTP side of delivery: one keep-alive undici Pool per target, the connection's auth on
 * every call, a hard timeout and a cap on how much of an answer is read (`maxResponseBytes`:
 * the body is streamed and the socket dropped once it passes the cap, so a huge answer never
 * sits in memory). It never retries: a failed call goes back to the classifier and BullMQ
 * decides (house-style §3.4).
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
  /** Aborts every call in flight (graceful shutdown, once the grace period is over). */
  signal?: AbortSignal;
}

export function createTargetClient(target: TargetConfig, options: TargetClientOptions = {}): TargetClient {
  // Every call in flight listens on the shutdown signal (one listener each, removed when it ends):
  // more than Node's default of 10 at once is expected, not a leak.
  if (options.signal) setMaxListeners(0, options.signal);
  const base = parseTargetBase(target.baseUrl);
  const tls = target.tls === undefined ? undefined : loadTargetTls(target.tls);
  const tlsConnect = targetConnect(tls, target.timeoutMs);
  const pool = new Pool(base.origin, {
    connections: options.connections ?? 50,
    connect: tlsConnect.connect,
    headersTimeout: target.timeoutMs,
    bodyTimeout: target.timeoutMs,
  });
  const auth = createAuthHeaders(target.auth, target.timeoutMs, tls);

  async function sendOnce(spec: HttpRequestSpec, credentials: Credentials): Promise<TargetResponse> {
    const path = joinTargetPath(base, spec.path);
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
    if (target.signing) Object.assign(headers, signatureHeaders(target.signing, body ?? ''));
    const response = await dispatchCapped(pool, { origin: base.origin, path, method: spec.method, headers, ...(body === undefined ? {} : { body }) }, {
      timeoutMs: target.timeoutMs,
      maxBytes: target.maxResponseBytes,
      what: () => `${spec.method} ${spec.path.split('?')[0]}`,
      explain: tlsConnect.explain,
      ...(options.signal ? { shutdown: options.signal } : {}),
    });
    const { bodyText } = response;
    const result: TargetResponse = { status: response.statusCode, headers: flattenHeaders(response.headers), bodyText };
    const json = parseJson(bodyText);
    if (json !== undefined) result.json = json;
    if (response.statusCode === 401 && credentials.token !== undefined) {
      auth.invalidate(credentials.token);
      result.staleCredentials = true;
    }
    return result;
  }

  return {
    async send(spec) {
      const credentials = await auth.headers();
      const first = await sendOnce(spec, credentials);
      // A cached OAuth2 token the target refuses (revoked, or its keys rotated) is replaced at
      // once and the call made once more: a 401 means the call was not performed. A token just
      // granted that is refused too is the target's verdict (the job retries later).
      if (!first.staleCredentials || !credentials.fromCache) return first;
      return sendOnce(spec, await auth.headers());
    },
    async close() {
      await Promise.all([pool.close(), auth.close()]);
    },
  };
}

interface CappedAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  bodyText: string;
}

interface CallLimits {
  /** One deadline for the whole call (queueing, answer and body): a `TimeoutError`, as `AbortSignal.timeout` gives. */
  timeoutMs: number;
  /** Most bytes of the answer read: past it the socket is dropped and the call fails with GW_DELIVERY_TOO_LARGE. */
  maxBytes: number;
  /** `POST /users`, for the error message (built only when one is needed). */
  what: () => string;
  /** Turns a socket error into the TLS failure behind it (tls-connect.ts). */
  explain: (error: unknown) => unknown;
  /** Aborts the call when it fires (graceful shutdown), with its reason. */
  shutdown?: AbortSignal;
}

/**
 * One call through undici's `dispatch`, its answer collected straight from the parser: about half
 * the CPU of `request()`, which wraps every answer in a Readable stream and every call in an
 * abort signal (measured on loopback: 31-37 against 58-76 µs per call). Aborting a call in
 * flight (deadline, shutdown, too large an answer) drops its socket, so nothing more is read.
 * @see https://undici.nodejs.org/#/docs/api/Dispatcher?id=dispatcherdispatchoptions-handler
 */
function dispatchCapped(pool: Dispatcher, options: Dispatcher.DispatchOptions, limits: CallLimits): Promise<CappedAnswer> {
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    let statusCode = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    let chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: unknown, answer?: CappedAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      limits.shutdown?.removeEventListener('abort', onShutdown);
      if (answer) resolve(answer);
      else reject(error);
    };
    /** Fails the call now; a call already on a socket is aborted, one still queued when it starts. */
    const abort = (error: Error) => {
      finish(error);
      if (controller && !controller.aborted) controller.abort(error);
    };
    const tooLarge = () =>
      new BridgeError('GW_DELIVERY_TOO_LARGE', `${limits.what()} answered ${statusCode} with more than ${limits.maxBytes} bytes (target.maxResponseBytes)`);
    const timer = setTimeout(() => abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), limits.timeoutMs);
    const onShutdown = () => abort(limits.shutdown?.reason instanceof Error ? limits.shutdown.reason : new DOMException('This operation was aborted', 'AbortError'));
    if (limits.shutdown?.aborted) onShutdown();
    else limits.shutdown?.addEventListener('abort', onShutdown, { once: true });

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(started) {
        controller = started;
        if (settled) started.abort(new DOMException('This operation was aborted', 'AbortError'));
      },
      onResponseStart(_controller, status, answerHeaders) {
        // 1xx answers come first and carry no body: only the final one counts.
        statusCode = status;
        headers = answerHeaders;
        chunks = [];
        size = 0;
        if (status < 200) return;
        const declared = Number(answerHeaders['content-length']);
        if (Number.isFinite(declared) && declared > limits.maxBytes) abort(tooLarge());
      },
      onResponseData(_controller, chunk) {
        if (settled) return;
        size += chunk.length;
        if (size > limits.maxBytes) {
          abort(tooLarge());
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        finish(undefined, { statusCode, headers, bodyText: Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_controller, error) {
        finish(limits.explain(error));
      },
    };
    try {
      pool.dispatch(options, handler);
    } catch (error) {
      finish(limits.explain(error));
    }
  });
}

/**
 * Webhook signature: HMAC-SHA256 over `<timestamp>.<body>`, so a receiver can reject replays of
 * old deliveries. Receivers verify with the same secret and a constant-time comparison.
 */
export function signatureHeaders(signing: { secret: string; header: string }, body: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  const digest = createHmac('sha256', signing.secret).update(`${timestamp}.${body}`).digest('hex');
  const name = signing.header.toLowerCase();
  return { [name]: `sha256=${digest}`, [`${name}-timestamp`]: timestamp };
}

/** Headers of one call; `token` (OAuth2) and whether it came from the cache rather than a new grant. */
export interface Credentials {
  headers: Record<string, string>;
  token?: string;
  fromCache?: boolean;
}

/** The target's credentials as headers (also used by `mode: proxy` connections). */
export interface AuthHeaders {
  headers(): Promise<Credentials>;
  invalidate(token: string): void;
  /** Closes the token endpoint's connections (OAuth2 with target.tls). */
  close(): Promise<void>;
}

/** `tls`: the target's client certificate and CA, also presented to an OAuth2 token endpoint. */
export function createAuthHeaders(auth: TargetAuth, timeoutMs: number, tls?: TargetTlsMaterial): AuthHeaders {
  const fixed = (headers: Record<string, string>): AuthHeaders => ({
    headers: () => Promise.resolve({ headers }),
    invalidate: () => undefined,
    close: () => Promise.resolve(),
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
      const tokens: TokenSource = createTokenSource(auth, { timeoutMs, ...(tls ? { tls } : {}) });
      return {
        async headers() {
          const { token, fromCache } = await tokens.token();
          return { headers: { authorization: `Bearer ${token}` }, token, fromCache };
        },
        invalidate: (token) => tokens.invalidate(token),
        close: () => tokens.close(),
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
