import { describe, expect, it } from 'vitest';
import { BridgeError } from '../../src/lib/errors.js';
import {
  classifyOutcome,
  DEFAULT_RATE_LIMIT_MS,
  MAX_RATE_LIMIT_MS,
  retryAfterMs,
  type CallInfo,
  type CallOutcome,
} from '../../src/delivery/classify.js';

const put: CallInfo = { method: 'PUT', path: '/api/v1/accounts/7', action: 'update' };
const del: CallInfo = { method: 'DELETE', path: '/api/v1/accounts/7', action: 'delete' };
const removeMember: CallInfo = { method: 'POST', path: '/api/v1/teams/1/remove', action: 'removeMember' };

function answer(status: number, bodyText = '', headers: Record<string, string> = {}): CallOutcome {
  return { status, headers, bodyText };
}

function netError(code: string): CallOutcome {
  return { error: Object.assign(new Error(`boom ${code}`), { code }) };
}

describe('classifyOutcome: HTTP status table', () => {
  it.each([200, 201, 202, 204, 299])('%i is ok', (status) => {
    expect(classifyOutcome(put, answer(status))).toEqual({ kind: 'ok' });
  });

  it.each([404, 410])('%i on DELETE is ok (already gone)', (status) => {
    expect(classifyOutcome(del, answer(status))).toEqual({ kind: 'ok' });
    expect(classifyOutcome({ method: 'delete', path: '/x' }, answer(status))).toEqual({ kind: 'ok' });
  });

  it.each([404, 410])('%i on a removeMember call is ok, whatever the method', (status) => {
    expect(classifyOutcome(removeMember, answer(status))).toEqual({ kind: 'ok' });
  });

  it('404 on a lookup is ok (nothing found), and goneIsOk can be forced', () => {
    expect(classifyOutcome({ method: 'GET', path: '/a', action: 'lookup' }, answer(404))).toEqual({ kind: 'ok' });
    expect(classifyOutcome({ method: 'POST', path: '/a/disable', action: 'deactivate', goneIsOk: true }, answer(410))).toEqual({
      kind: 'ok',
    });
  });

  it.each([404, 410])('%i on a non-delete call is rejected', (status) => {
    expect(classifyOutcome(put, answer(status))).toMatchObject({ kind: 'reject', code: 'GW_DELIVERY_REJECTED', status });
  });

  it.each([408, 425, 500, 502, 503, 504, 505, 507, 599])('%i is retried', (status) => {
    expect(classifyOutcome(put, answer(status))).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_RETRYABLE' });
  });

  it.each([301, 400, 401, 403, 405, 409, 415, 422, 501])('%i is rejected', (status) => {
    expect(classifyOutcome(put, answer(status))).toMatchObject({ kind: 'reject', code: 'GW_DELIVERY_REJECTED', status });
  });

  it('401 to a token the client just dropped is retried (a new token comes next time)', () => {
    const outcome: CallOutcome = { status: 401, headers: {}, bodyText: '', staleCredentials: true };
    expect(classifyOutcome(put, outcome)).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });
});

describe('classifyOutcome: 429 and Retry-After', () => {
  it('uses Retry-After in seconds', () => {
    expect(classifyOutcome(put, answer(429, '', { 'Retry-After': '7' }))).toMatchObject({ kind: 'rateLimited', delayMs: 7000 });
  });

  it('uses Retry-After as an HTTP date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
  });

  it('defaults without (or with a bad) Retry-After', () => {
    expect(classifyOutcome(put, answer(429))).toMatchObject({ kind: 'rateLimited', delayMs: DEFAULT_RATE_LIMIT_MS });
    expect(retryAfterMs('soon')).toBe(DEFAULT_RATE_LIMIT_MS);
  });

  it('caps at one hour and never goes below 1 ms', () => {
    expect(retryAfterMs('86400')).toBe(MAX_RATE_LIMIT_MS);
    expect(retryAfterMs('0')).toBe(1);
    expect(retryAfterMs('Tue, 01 Jan 2000 00:00:00 GMT')).toBe(1);
  });
});

describe('classifyOutcome: errors without an answer', () => {
  it.each(['ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET'])(
    '%s is retried as unreachable',
    (code) => {
      expect(classifyOutcome(put, netError(code))).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_UNREACHABLE' });
    },
  );

  it.each(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])('%s is retried as a timeout', (code) => {
    expect(classifyOutcome(put, netError(code))).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TIMEOUT' });
  });

  it.each(['AbortError', 'TimeoutError'])('%s is retried as a timeout', (name) => {
    const error = new DOMException('The operation was aborted due to timeout', name);
    expect(classifyOutcome(put, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_TIMEOUT' });
  });

  it('looks through cause (fetch wraps socket errors)', () => {
    const error = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    expect(classifyOutcome(put, { error })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_UNREACHABLE' });
  });

  it('retries unknown errors (attempts are bounded; losing a change is worse)', () => {
    expect(classifyOutcome(put, { error: new Error('weird') })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_RETRYABLE' });
  });

  it('rejects a token endpoint that refuses the credentials, retries one that is down', () => {
    const refused = new BridgeError('GW_DELIVERY_AUTH', 'token endpoint failed: 401 invalid_client', {
      cause: { status: 401 },
    });
    const down = new BridgeError('GW_DELIVERY_AUTH', 'token endpoint failed: 503', { cause: { status: 503 } });
    const unreachable = new BridgeError('GW_DELIVERY_AUTH', 'token endpoint failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    expect(classifyOutcome(put, { error: refused })).toMatchObject({ kind: 'reject', code: 'GW_DELIVERY_AUTH', status: 401 });
    expect(classifyOutcome(put, { error: down })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
    expect(classifyOutcome(put, { error: unreachable })).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });

  it('rejects a request the mapping built unsafely', () => {
    const error = new BridgeError('GW_MAP_EVAL', 'mapped request path rejected: it changes the origin');
    expect(classifyOutcome(put, { error })).toMatchObject({ kind: 'reject', code: 'GW_MAP_EVAL' });
  });
});

describe('classifyOutcome: reasons', () => {
  it('name the method, path, status and code, and leave the query string out', () => {
    const result = classifyOutcome({ method: 'get', path: '/api/v1/accounts?login=alice@example.com' }, answer(400, '{"error":"bad"}'));
    expect(result).toMatchObject({ kind: 'reject' });
    const { reason } = result as { reason: string };
    expect(reason).toBe('GW_DELIVERY_REJECTED 400 GET /api/v1/accounts?… answered 400: {"error":"bad"}');
    expect(reason).not.toContain('alice');
  });

  it('mask secrets in JSON bodies, at any depth', () => {
    const body = JSON.stringify({ error: 'nope', password: 'hunter2', nested: { api_key: 'k1', list: [{ accessToken: 't' }] } });
    const { reason } = classifyOutcome(put, answer(422, body)) as { reason: string };
    expect(reason).not.toMatch(/hunter2|k1|"t"/);
    expect(reason).toContain('"password":"[REDACTED]"');
    expect(reason).toContain('"api_key":"[REDACTED]"');
    expect(reason).toContain('"accessToken":"[REDACTED]"');
  });

  it('mask secret-looking pairs in text bodies', () => {
    const { reason } = classifyOutcome(put, answer(400, 'invalid request: Authorization: Bearer abc.def, apiKey=xyz')) as {
      reason: string;
    };
    expect(reason).not.toMatch(/abc\.def|xyz/);
  });

  it('cut the body to 300 characters', () => {
    const { reason } = classifyOutcome(put, answer(400, 'x'.repeat(5000))) as { reason: string };
    const body = reason.split('answered 400: ')[1] ?? '';
    expect(body.length).toBeLessThanOrEqual(300);
    expect(body.endsWith('…')).toBe(true);
  });

  it('say so when the body is empty', () => {
    expect(classifyOutcome(put, answer(503))).toMatchObject({ reason: expect.stringContaining('(empty body)') as unknown });
  });
});
