import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_ERROR, startApiBridge, tag, userBody, type ApiBridge, type ScimResponse } from './support.js';

/**
 * Bearer auth of the SCIM endpoints over real HTTP: every failure looks the same (status,
 * header, detail), rotation secrets both work, and two connections in one bridge never see
 * each other's secrets or data.
 */

let b: ApiBridge;
let detail: string | undefined;

beforeAll(async () => {
  b = await startApiBridge('api-auth', { connections: [{ id: 'alpha', secrets: 2 }, { id: 'beta' }] });
});
afterAll(async () => {
  await b?.close();
});

const alpha = () => b.clients.alpha!;
const beta = () => b.clients.beta!;

function expectUnauthorized(res: ScimResponse): void {
  expect(res.status).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
  expect(res.body).toEqual({ schemas: [SCHEMA_ERROR], status: '401', detail: expect.any(String) });
  detail ??= res.body.detail as string;
  expect(res.body.detail).toBe(detail);
  expect(res.text).not.toContain(b.secrets.alpha![0]);
  expect(res.text).not.toContain(b.secrets.beta![0]);
}

describe('SCIM bearer auth', () => {
  it.each([
    ['missing header', undefined],
    ['wrong scheme', () => `Basic ${Buffer.from(`user:${b.secrets.alpha![0]}`).toString('base64')}`],
    ['bare secret without a scheme', () => b.secrets.alpha![0]!],
    ['wrong secret', () => 'Bearer not-the-secret'],
    ['empty bearer', () => 'Bearer '],
    ['bearer keyword only', () => 'Bearer'],
  ])('rejects %s with a 401 SCIM error', async (_name, header) => {
    const res = await alpha().request('GET', '/Users', undefined, { authorization: header?.() });
    expectUnauthorized(res);
  });

  it('gives the same detail for every kind of failure, on every route', async () => {
    for (const [method, path] of [
      ['GET', '/Users'],
      ['POST', '/Users'],
      ['GET', '/Groups/123'],
      ['DELETE', '/Users/123'],
      ['GET', '/ServiceProviderConfig'],
      ['GET', '/NoSuchRoute'],
    ] as const) {
      const res = await alpha().request(method, path, method === 'POST' ? userBody(`x-${tag()}@example.com`) : undefined, {
        authorization: 'Bearer wrong',
      });
      expectUnauthorized(res);
    }
  });

  it('accepts both secrets of a rotation', async () => {
    for (const secret of b.secrets.alpha!) {
      const res = await alpha().request('GET', '/Users', undefined, { authorization: `Bearer ${secret}` });
      expect(res.status).toBe(200);
    }
  });

  it('accepts the scheme in any case (RFC 6750 §2.1)', async () => {
    const res = await alpha().request('GET', '/Users', undefined, { authorization: `bearer ${b.secrets.alpha![1]}` });
    expect(res.status).toBe(200);
  });

  it("never opens one connection with another connection's secret", async () => {
    for (const secret of b.secrets.alpha!) {
      expectUnauthorized(await beta().request('GET', '/Users', undefined, { authorization: `Bearer ${secret}` }));
    }
    expectUnauthorized(await alpha().request('GET', '/Users', undefined, { authorization: `Bearer ${b.secrets.beta![0]}` }));
  });

  it("keeps each connection's data invisible to the other", async () => {
    const userName = `isolated-${tag()}@example.com`;
    const created = await alpha().request('POST', '/Users', userBody(userName));
    expect(created.status).toBe(201);

    const filter = `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`;
    expect((await alpha().request('GET', filter)).body.totalResults).toBe(1);
    const other = await beta().request('GET', filter);
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ totalResults: 0, Resources: [] });
    expect((await beta().request('GET', `/Users/${created.body.id}`)).status).toBe(404);

    const sameNameInBeta = await beta().request('POST', '/Users', userBody(userName));
    expect(sameNameInBeta.status).toBe(201);
    expect(sameNameInBeta.body.id).not.toBe(created.body.id);
  });

  it('answers an unknown connection path like a bad secret', async () => {
    const root = b.bridge.url!;
    for (const path of ['/nope/scim/v2/Users', '/nope/scim/v2/Users/123', '/nope/scim']) {
      const res = await fetch(`${root}${path}`, { headers: { authorization: `Bearer ${b.secrets.alpha![0]}` } });
      const text = await res.text();
      expectUnauthorized({ status: res.status, body: JSON.parse(text), text, headers: res.headers });
    }
  });

  it('checks auth before parsing the body', async () => {
    const res = await alpha().request('POST', '/Users', '{"userName": ', { authorization: 'Bearer wrong' });
    expectUnauthorized(res);
    const tooLarge = await alpha().request('POST', '/Users', JSON.stringify({ pad: 'x'.repeat(1_100_000) }), { authorization: 'Bearer wrong' });
    expectUnauthorized(tooLarge);
    // The unread upload must not keep the socket busy (it stalled the bridge's shutdown).
    expect(tooLarge.headers.get('connection')).toBe('close');
  });

  it('checks auth before parsing the body on an unknown connection path too', async () => {
    const res = await fetch(`${b.bridge.url}/nope/scim/v2/Users`, {
      method: 'POST',
      headers: { 'content-type': 'application/scim+json' },
      body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }),
    });
    const text = await res.text();
    expectUnauthorized({ status: res.status, body: JSON.parse(text), text, headers: res.headers });
  });

  it('leaves non-SCIM paths alone', async () => {
    expect((await fetch(`${b.bridge.url}/livez`)).status).toBe(200);
    expect((await fetch(`${b.bridge.url}/nothing-here`)).status).toBe(404);
  });
});
