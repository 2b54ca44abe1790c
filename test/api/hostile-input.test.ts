import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge } from '../../src/bridge.js';
import { expectScimErrorShape, groupBody, SCHEMA_PATCH, startApiBridge, tag, userBody, type ApiBridge, type ScimClient } from './support.js';

/**
 * Input crafted to hurt the bridge rather than to provision anything, over real HTTP: nothing a
 * client sends may cost more than linear time or stall the process for other requests.
 */

let b: ApiBridge;
let api: ScimClient;

beforeAll(async () => {
  b = await startApiBridge('hostile', { connections: [{ id: 'acme' }] });
  api = b.clients.acme!;
});
afterAll(async () => {
  await b?.close();
});

/** Generous "must not hang" bound: a quadratic regex on these inputs takes tens of seconds. */
const HANG_BOUND_MS = 10_000;

async function livez(): Promise<number> {
  const res = await fetch(`${b.bridge.url}/livez`, { signal: AbortSignal.timeout(HANG_BOUND_MS) });
  return res.status;
}

describe('input that used to cost quadratic time', () => {
  it('answers a 100 KB PATCH path, a 100 KB unknown member id and a long filter with 400 (414 past the URL limit) while /livez keeps answering', async () => {
    const user = await api.request('POST', '/Users', userBody(`hostile-${tag()}@example.com`));
    const group = await api.request('POST', '/Groups', groupBody(`Hostile ${tag()}`));
    expect(user.status).toBe(201);
    expect(group.status).toBe(201);

    const longPath = `${'a'.repeat(100_000)}!`;
    const hostile = [
      api.request('PATCH', `/Users/${user.body.id}`, { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', path: longPath, value: 'x' }] }),
      api.request('PATCH', `/Groups/${group.body.id}`, {
        schemas: [SCHEMA_PATCH],
        Operations: [{ op: 'add', path: 'members', value: [{ value: 'b'.repeat(100_000) }] }],
      }),
      api.request('POST', '/Groups', groupBody(`Hostile ${tag()}`, { members: [{ value: 'c'.repeat(100_000) }] })),
      api.request('GET', `/Users?filter=${'d'.repeat(6_000)}`),
    ];
    // Over the URL limit (8 KB by default), before any filter parsing.
    const longUrl = api.request('GET', `/Users?filter=${'e'.repeat(14_500)}`);
    // Probe while the hostile requests are in flight: a blocked event loop cannot answer.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await livez()).toBe(200);
    const answers = await Promise.all(hostile);
    for (const res of answers) expectScimErrorShape(res, 400);
    expect(answers[3]!.body.scimType).toBe('invalidFilter');
    expectScimErrorShape(await longUrl, 414);
    // Nothing was stored: the user and the group read back as before.
    expect((await api.request('GET', `/Users/${user.body.id}`)).body.meta.version).toBe(user.body.meta.version);
    expect((await api.request('GET', `/Groups/${group.body.id}`)).body.meta.version).toBe(group.body.meta.version);
  });
});

describe('a rejected PATCH stores nothing', () => {
  const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

  it('rejects a user PATCH whose result is invalid, and the user stays readable, filterable and listable', async () => {
    const userName = `manager-${tag()}@example.com`;
    const user = await api.request('POST', '/Users', userBody(userName));
    expect(user.status).toBe(201);
    const bad = [
      { op: 'add', path: `${ENTERPRISE}:manager.value`, value: 123 },
      { op: 'add', path: `${ENTERPRISE}:manager`, value: { value: { nested: true } } },
      { op: 'replace', path: 'active', value: 'maybe' },
      { op: 'remove', path: 'userName' },
    ];
    for (const op of bad) {
      expectScimErrorShape(await api.request('PATCH', `/Users/${user.body.id}`, { schemas: [SCHEMA_PATCH], Operations: [op] }), 400);
    }
    const read = await api.request('GET', `/Users/${user.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.meta.version).toBe(user.body.meta.version);
    const filtered = await api.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    expect(filtered.status).toBe(200);
    expect(filtered.body.totalResults).toBe(1);
    expect((await api.request('GET', '/Users?count=200')).status).toBe(200);
  });

  it('rejects a group PATCH that removes displayName, and the group stays readable', async () => {
    const group = await api.request('POST', '/Groups', groupBody(`Keep ${tag()}`));
    const ops = [
      { op: 'remove', path: 'displayName' },
      { op: 'replace', path: 'displayName', value: 42 },
      { op: 'replace', value: { displayName: { nested: 'x' } } },
    ];
    for (const op of ops) {
      expectScimErrorShape(await api.request('PATCH', `/Groups/${group.body.id}`, { schemas: [SCHEMA_PATCH], Operations: [op] }), 400);
    }
    const read = await api.request('GET', `/Groups/${group.body.id}?excludedAttributes=members`);
    expect(read.status).toBe(200);
    expect(read.body.meta.version).toBe(group.body.meta.version);
    expect((await api.request('GET', '/Groups?excludedAttributes=members')).status).toBe(200);
  });
});

describe('deep nesting', () => {
  const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it.each([100, 2_500, 100_000])('answers a body nested %i levels with 400 invalidSyntax and stores nothing', async (depth) => {
    const displayName = `Deep ${tag()}`;
    const body = JSON.stringify(groupBody(displayName)).replace(/}$/, `,"extra":${nested(depth)}}`);
    expectScimErrorShape(await api.request('POST', '/Groups', body), 400, 'invalidSyntax');
    const found = await api.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${displayName}"`)}&excludedAttributes=members`);
    expect(found.body.totalResults).toBe(0);
  });

  it('accepts nesting up to the limit (64 by default)', async () => {
    const body = JSON.stringify(groupBody(`Nested ${tag()}`)).replace(/}$/, `,"urn:example:deep":{"a":${nested(60)}}}`);
    expect((await api.request('POST', '/Groups', body)).status).toBe(201);
  });
});

describe('prototype keys', () => {
  it.each([
    ['POST /Groups', 'POST', '/Groups', '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"__proto__":{"displayName":"X"}}'],
    ['POST /Users', 'POST', '/Users', '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"__proto__":{"userName":"x@example.com"}}'],
    ['a nested constructor.prototype', 'POST', '/Users', '{"userName":"y@example.com","name":{"constructor":{"prototype":{"givenName":"Y"}}}}'],
  ])('answers %s with __proto__ keys with 400 and stores nothing', async (_name, method, path, body) => {
    const before = await api.request('GET', `${path}?count=0`);
    expectScimErrorShape(await api.request(method, path, body), 400);
    expect((await api.request('GET', `${path}?count=0`)).body.totalResults).toBe(before.body.totalResults);
  });
});

describe('concurrent writes to one resource', () => {
  it('answers 50 concurrent PATCHes of one user without a 500, and keeps every accepted change', async () => {
    const user = await api.request('POST', '/Users', userBody(`busy-${tag()}@example.com`));
    const values = Array.from({ length: 50 }, (_, i) => `busy-${i}-${tag()}@example.net`);
    const answers = await Promise.all(
      values.map((value) =>
        api.request('PATCH', `/Users/${user.body.id}`, {
          schemas: [SCHEMA_PATCH],
          Operations: [{ op: 'add', path: 'emails', value: [{ type: 'other', value }] }],
        }),
      ),
    );
    for (const res of answers) {
      if (res.status === 200) continue;
      expectScimErrorShape(res, 503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    const accepted = values.filter((_, i) => answers[i]!.status === 200);
    // The retry loop should almost never give up; a few 503s under heavy load are allowed.
    expect(accepted.length).toBeGreaterThanOrEqual(45);
    const emails = ((await api.request('GET', `/Users/${user.body.id}`)).body.emails as { value: string }[]).map((e) => e.value);
    for (const value of accepted) expect(emails).toContain(value);
  });
});

describe('every error is a SCIM error body', () => {
  it.each(['text', '???', 'a b', '/json', 'application/'])(
    'answers a POST with Content-Type %j with a SCIM 4xx',
    async (type) => {
      const res = await api.request('POST', '/Users', JSON.stringify(userBody(`ct-${tag()}@example.com`)), { 'content-type': type });
      expect([400, 415]).toContain(res.status);
      expectScimErrorShape(res, res.status);
    },
  );

  it.each(['1e21', '0x10', '99999999999999999999', '-1e400'])('answers startIndex=%s without a 5xx', async (value) => {
    for (const name of ['startIndex', 'count']) {
      const res = await api.request('GET', `/Users?${name}=${value}`);
      if (res.status === 200) expect(res.body.Resources).toBeDefined();
      else expectScimErrorShape(res, 400, 'invalidValue');
    }
  });

  it('pages past the end for a huge integer startIndex', async () => {
    const res = await api.request('GET', '/Users?startIndex=99999999999999999');
    expect(res.status).toBe(200);
    expect(res.body.Resources).toEqual([]);
  });

  it('answers an over-long id and a badly encoded one with SCIM bodies that do not echo the URL', async () => {
    // No id is that long (limits.idLength), so no resource is there: 404, for every method.
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE'] as const) {
      const long = await api.request(method, `/Users/${'f'.repeat(1_000)}`, method === 'GET' || method === 'DELETE' ? undefined : {});
      expectScimErrorShape(long, 404);
      expect(long.body.detail).toBe('not found: no resource has an id longer than 256 characters');
      expect(long.text).not.toContain('ffffffffff');
    }
    // A long id in a URL that is too long as a whole is still 414.
    const both = await api.request('GET', `/Groups/${'f'.repeat(9_000)}`);
    expectScimErrorShape(both, 414);
    const bad = await api.request('GET', '/Users/abc%ff');
    expectScimErrorShape(bad, 400);
    expect(bad.text).not.toContain('abc');
  });

  it('answers a request line over the URL limit with 414, and a head over the header limit with 431', async () => {
    expectScimErrorShape(await api.request('GET', `/Users?attributes=${'g'.repeat(9_000)}`), 414);
    const huge = await rawRequest(`GET /acme/scim/v2/Users?x=${'h'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge).toContain('application/scim+json');
    expect(JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4)).status).toBe('431');
  });

  it('answers unknown routes outside the SCIM base path with a SCIM 404', async () => {
    const res = await fetch(`${b.bridge.url}/nope`);
    const text = await res.text();
    expectScimErrorShape({ status: res.status, body: JSON.parse(text), text, headers: res.headers }, 404);
  });

  it('never echoes a client x-request-id that is not a plain token', async () => {
    const res = await fetch(`${b.bridge.url}/livez`, { headers: { 'x-request-id': '<script>alert(1)</script>' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id') ?? '').not.toContain('<');
  });
});

describe('slow clients', () => {
  let slow: ApiBridge;
  beforeAll(async () => {
    slow = await startApiBridge('hostile-slow', {
      connections: [{ id: 'acme' }],
      limits: { requestTimeoutMs: 1_000, headersTimeoutMs: 500 },
    });
  });
  afterAll(async () => {
    await slow?.close();
  });

  it('closes a connection whose body trickles in slower than the request timeout, with a 408 SCIM body', async () => {
    const { hostname: host, port } = new URL(slow.bridge.url!);
    const socket = connect({ host, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST /acme/scim/v2/Users HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${slow.secrets.acme![0]}\r\n` +
        'Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{',
    );
    // One byte every 200 ms would take 200 s to finish the body; the bridge must not wait.
    const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
    const gaveUp = setTimeout(() => socket.destroy(), 20_000);
    await closed;
    clearInterval(trickle);
    clearTimeout(gaveUp);
    const answer = Buffer.concat(chunks).toString('utf8');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('application/scim+json');
  });
});

/** Sends raw bytes to the test bridge and returns everything it answers until it closes. */
async function rawRequest(text: string): Promise<string> {
  const { hostname: host, port } = new URL(b.bridge.url!);
  const socket = connect({ host, port: Number(port) });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.write(text);
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    setTimeout(() => socket.destroy(), HANG_BOUND_MS);
  });
  return Buffer.concat(chunks).toString('utf8');
}

describe('reads of documents stored before these checks existed', () => {
  it('answers reads, filters and lists of a deeply nested or malformed stored group and user', async () => {
    const { store } = b.bridge.runtime.connection('acme');
    let deep: unknown = 'x';
    for (let i = 0; i < 2_500; i++) deep = [deep];
    const now = new Date().toISOString();
    const groupId = `legacy-${tag()}`;
    const userId = `legacy-${tag()}`;
    await store.create('Group', {
      id: groupId,
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `Legacy ${tag()}`,
      extra: deep,
      meta: { resourceType: 'Group', created: now, lastModified: now },
    });
    await store.create('User', {
      id: userId,
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: `legacy-${tag()}@example.com`,
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { manager: { value: 123 } },
      meta: { resourceType: 'User', created: now, lastModified: now },
    });
    expect((await api.request('GET', `/Groups/${groupId}?excludedAttributes=members`)).status).toBe(200);
    expect((await api.request('GET', `/Groups?excludedAttributes=members&count=200`)).status).toBe(200);
    expect((await api.request('GET', `/Groups?filter=${encodeURIComponent(`extra eq "x"`)}`)).status).toBe(200);
    expect((await api.request('GET', `/Users/${userId}`)).status).toBe(200);
    expect((await api.request('GET', `/Users?count=200`)).status).toBe(200);
  });
});

describe('per-connection rate limit', () => {
  let limited: ApiBridge;
  beforeAll(async () => {
    limited = await startApiBridge('hostile-rate', { connections: [{ id: 'acme', extra: { rateLimit: { max: 3, windowMs: 60_000 } } }, { id: 'other' }] });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('answers requests past the allowance with a SCIM 429 and Retry-After, counting only authenticated ones', async () => {
    const acme = limited.clients.acme!;
    for (let i = 0; i < 5; i++) expect((await acme.request('GET', '/Users', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await acme.request('GET', '/Users?count=1')).status).toBe(200);
    const throttled = await acme.request('GET', '/Users?count=1');
    expectScimErrorShape(throttled, 429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another connection has its own allowance (none here).
    expect((await limited.clients.other!.request('GET', '/Users?count=1')).status).toBe(200);
  });

  it('shares one allowance across API processes: a second process on the same Redis throttles too', async () => {
    const second = await startBridge(limited.config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
    try {
      const acme = limited.config.connections.find((c) => c.id === 'acme')!;
      const res = await fetch(`${second.url}${acme.basePath}/Users?count=1`, { headers: { authorization: `Bearer ${limited.secrets.acme![0]}` } });
      expect(res.status).toBe(429);
      expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // The first process, in the same window, still throttles as well.
      expect((await limited.clients.acme!.request('GET', '/Users?count=1')).status).toBe(429);
    } finally {
      await second.close();
    }
  });
});
