import type { Socket } from 'node:net';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/schema.js';
import { classifyOutcome } from '../../src/delivery/classify.js';
import { createTargetClient, type TargetClient } from '../../src/delivery/http-client.js';
import { BridgeError } from '../../src/lib/errors.js';
import { startServer, type TestServer } from '../helpers/http-server.js';

/**
 * A target's OAuth2 token endpoint that misbehaves: every shape is a GW_DELIVERY_AUTH failure
 * the classifier retries, with a detail that says what was wrong and never the client secret,
 * and the target is not called. The token endpoint is intercepted with nock (openid-client uses
 * the global fetch, which nock 14 intercepts): an https token URL on a public host name, as in
 * production, and a connection error with a chosen code, which a loopback server cannot give.
 * A reset in the middle of an answer comes from a real server.
 */

const SECRET = 'nock-client-secret';
const TOKEN_ORIGIN = 'https://login.example.com';

let target: TestServer;
let targetCalls = 0;
let resetting: TestServer;
const clients: TargetClient[] = [];

beforeAll(async () => {
  target = await startServer((req, res) => {
    targetCalls += 1;
    req.resume();
    res.writeHead(200).end('{}');
  });
  // Headers and half a token, then the socket is destroyed.
  resetting = await startServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
      res.write('{"access_token":"half-a-tok', () => (res.socket as Socket).destroy());
    });
  });
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  nock.cleanAll();
  targetCalls = 0;
});

afterAll(async () => {
  nock.enableNetConnect();
  nock.restore();
  await target?.close();
  await resetting?.close();
});

function client(tokenUrl = `${TOKEN_ORIGIN}/oauth2/token`): TargetClient {
  const created = createTargetClient(
    targetSchema.parse({
      baseUrl: target.url,
      timeoutMs: 2_000,
      auth: { type: 'oauth2', tokenUrl, clientId: 'bridge', clientSecret: SECRET, clientAuth: 'post' },
    }),
  );
  clients.push(created);
  return created;
}

/** Sends one call that must fail; returns the error and its classification. */
async function failedCall(c: TargetClient) {
  const error: unknown = await c.send({ method: 'POST', path: '/accounts', headers: {}, body: { login: 'ada' } }).then(
    () => {
      throw new Error('the call should have failed');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BridgeError);
  const verdict = classifyOutcome({ method: 'POST', path: '/accounts' }, { error });
  expect(JSON.stringify(verdict)).not.toContain(SECRET);
  expect(String((error as Error).message)).not.toContain(SECRET);
  expect(targetCalls).toBe(0);
  return { error: error as BridgeError, verdict };
}

const tokenEndpoint = () => nock(TOKEN_ORIGIN).post('/oauth2/token', (body: Record<string, string>) => body.client_secret === SECRET);

describe('OAuth2 token endpoint failures (nock)', () => {
  it.each([
    ['ECONNRESET', 'the connection failed (ECONNRESET)'],
    ['EAI_AGAIN', 'the connection failed (EAI_AGAIN)'],
  ])('the connection fails with %s: retried', async (code, detail) => {
    const scope = tokenEndpoint().replyWithError(Object.assign(new Error('socket hang up'), { code }));
    const { error, verdict } = await failedCall(client());
    expect(scope.isDone()).toBe(true);
    expect(error).toMatchObject({ code: 'GW_DELIVERY_AUTH', message: `token endpoint failed: ${detail}` });
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });

  it('answers 200 with an HTML page (a login page or a proxy error page): retried, named as not JSON', async () => {
    const scope = tokenEndpoint().reply(200, '<html><body>Sign in</body></html>', { 'content-type': 'text/html; charset=utf-8' });
    const { error, verdict } = await failedCall(client());
    expect(scope.isDone()).toBe(true);
    expect(error.message).toBe('token endpoint failed: answered 200 with a body that is not JSON (text/html) (OAUTH_RESPONSE_IS_NOT_JSON)');
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });

  it('answers malformed JSON: retried', async () => {
    const scope = tokenEndpoint().reply(200, '{"access_token": "abc', { 'content-type': 'application/json' });
    const { error, verdict } = await failedCall(client());
    expect(scope.isDone()).toBe(true);
    expect(error.message).toBe('token endpoint failed: answered with malformed JSON or a body cut short (OAUTH_PARSE_ERROR)');
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });

  it('answers JSON without access_token: retried, named as such', async () => {
    const scope = tokenEndpoint().reply(200, { token_type: 'Bearer', expires_in: 3600 });
    const { error, verdict } = await failedCall(client());
    expect(scope.isDone()).toBe(true);
    expect(error.message).toBe('token endpoint failed: answered without a usable access_token (OAUTH_INVALID_RESPONSE)');
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });

  it('answers 500 with HTML: retried; a 400 invalid_client: permanent', async () => {
    tokenEndpoint().reply(500, '<html>oops</html>', { 'content-type': 'text/html' });
    const down = await failedCall(client());
    expect(down.error.message).toBe('token endpoint failed: answered 500 (OAUTH_RESPONSE_IS_NOT_CONFORM)');
    expect(down.verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });

    tokenEndpoint().reply(400, { error: 'invalid_client', error_description: `bad secret ${SECRET}` });
    const refused = await failedCall(client());
    expect(refused.error.message).toBe('token endpoint failed: 400 invalid_client');
    expect(refused.verdict).toMatchObject({ kind: 'reject', code: 'GW_DELIVERY_AUTH', status: 400 });
  });

  it('after a failure the next call asks again and succeeds: nothing broken is cached', async () => {
    tokenEndpoint().reply(200, '<html></html>', { 'content-type': 'text/html' });
    tokenEndpoint().reply(200, { access_token: 'good', token_type: 'Bearer', expires_in: 3600 });
    const c = client();
    await failedCall(c);
    const response = await c.send({ method: 'GET', path: '/', headers: {} });
    expect(response.status).toBe(200);
    expect(nock.isDone()).toBe(true);
  });
});

describe('OAuth2 token endpoint failures (real server)', () => {
  it('resets the connection in the middle of its answer: retried', async () => {
    const { error, verdict } = await failedCall(client(`${resetting.url}/token`));
    expect(error.code).toBe('GW_DELIVERY_AUTH');
    expect(error.message).toBe('token endpoint failed: answered with malformed JSON or a body cut short (UND_ERR_SOCKET) (OAUTH_PARSE_ERROR)');
    expect(verdict).toMatchObject({ kind: 'retry', code: 'GW_DELIVERY_AUTH' });
  });
});
