import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { register } from 'prom-client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { SAMPLE_MAPPING } from '../helpers/bridge.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';

/**
 * Pass-through (docs/reverse-proxy.md): a small application behind the bridge keeps serving its
 * pages, API, redirects, error answers, a large streamed download and upload, and a WebSocket,
 * while the bridge keeps its own routes. Streaming is proven without timing: the application
 * (or the client) waits for the other side to have received the first part before sending the
 * rest, which deadlocks (and fails the bounded wait) if the bridge buffered the body.
 */

const MB = 1024 * 1024;
const LARGE_MB = 64;
const CHUNK = 64 * 1024;

/** Deterministic pseudo-random chunks, generated on the fly (never held in memory whole). */
function chunkAt(index: number): Buffer {
  const seed = createHash('sha256').update(`chunk-${index}`).digest();
  const chunk = Buffer.allocUnsafe(CHUNK);
  for (let offset = 0; offset < CHUNK; offset += seed.length) seed.copy(chunk, offset);
  return chunk;
}

function expectedDigest(totalBytes: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i * CHUNK < totalBytes; i++) hash.update(chunkAt(i));
  return hash.digest('hex');
}

/** A gate the test opens from the other side of the proxy; bounded so a deadlock fails, not hangs. */
function gate(label: string) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const bounded = Promise.race([
    opened,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${label}: the other side never saw the first part (buffered?)`)), 30_000).unref()),
  ]);
  return { open, wait: () => bounded };
}

let downloadGate = gate('download');
let uploadGate = gate('upload');

function appHandler(name: string) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://app');
    if (url.pathname.endsWith('/download')) {
      const total = Number(url.searchParams.get('mb')) * MB;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-app': name });
      const chunks = total / CHUNK;
      for (let i = 0; i < chunks; i++) {
        if (!res.write(chunkAt(i))) await new Promise((r) => res.once('drain', r));
        if (i === 16) await downloadGate.wait();
      }
      res.end();
      return;
    }
    if (url.pathname.endsWith('/upload')) {
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of req) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        if (bytes >= MB) uploadGate.open();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), contentType: req.headers['content-type'] }));
      return;
    }
    if (url.pathname.endsWith('/echo')) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-app': name, 'set-cookie': 'session=abc; HttpOnly' });
      res.end(JSON.stringify({ app: name, method: req.method, url: req.url, headers: req.headers }));
      return;
    }
    if (url.pathname === '/old-page') {
      res.writeHead(302, { location: '/new-page' });
      res.end();
      return;
    }
    if (url.pathname === '/broken') {
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'text/plain' });
      res.end('app is down for maintenance');
      return;
    }
    if (url.pathname === '/slow') return; // never answers: the bridge's timeout must
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-app': name });
    res.end(`<!doctype html><title>${name}</title><h1>${name} page ${url.pathname}</h1>`);
  };
}

let app: TestServer;
let acmeApp: TestServer;
let wss: WebSocketServer;
let bridge: RunningBridge;
let base: string;
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-passthrough-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  app = await startServer(appHandler('app'));
  acmeApp = await startServer(appHandler('acme-app'));
  // The application's own WebSocket endpoint: echoes, and tells which headers it got.
  wss = new WebSocketServer({ server: app.server, path: '/live' });
  wss.on('connection', (socket, req) => {
    socket.send(JSON.stringify({ hello: req.headers['x-client'] ?? null, forwardedHost: req.headers['x-forwarded-host'] ?? null }));
    socket.on('message', (data, binary) => socket.send(data, { binary }));
  });
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    upstream: { url: app.url, timeoutMs: 3_000, websocket: true },
    connections: [
      {
        id: 'acme',
        auth: { bearer: [secret] },
        target: { baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 },
        mapping: SAMPLE_MAPPING,
        upstream: { url: acmeApp.url, prefix: '/acme' },
      },
      {
        id: 'beta',
        auth: { bearer: [secret] },
        target: { baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 },
        mapping: SAMPLE_MAPPING,
        // Nothing listens on port 9 (discard): the application is down.
        upstream: { url: 'http://127.0.0.1:9', prefix: '/beta' },
      },
    ],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
  base = bridge.url!;
});

afterAll(async () => {
  await bridge?.close();
  wss?.close();
  await app?.close();
  await acmeApp?.close();
  await dropPrefix(prefix);
});

describe('pass-through to the application', () => {
  it('serves the application pages and API unchanged, with X-Forwarded-* added', async () => {
    const page = await fetch(`${base}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('x-app')).toBe('app');
    expect(await page.text()).toBe('<!doctype html><title>app</title><h1>app page /dashboard</h1>');

    const api = await fetch(`${base}/api/echo?filter=a+b&flag&x=%22y%22`, {
      method: 'POST',
      headers: { authorization: 'Bearer app-session-token', 'content-type': 'application/json', 'x-custom': 'kept', 'x-forwarded-for': '10.0.0.7' },
      body: JSON.stringify({ not: 'parsed' }),
    });
    expect(api.status).toBe(200);
    expect(api.headers.get('set-cookie')).toBe('session=abc; HttpOnly');
    const echoed = (await api.json()) as { method: string; url: string; headers: Record<string, string> };
    expect(echoed.method).toBe('POST');
    // The query string arrives byte for byte (no re-encoding).
    expect(echoed.url).toBe('/api/echo?filter=a+b&flag&x=%22y%22');
    expect(echoed.headers.authorization).toBe('Bearer app-session-token');
    expect(echoed.headers['x-custom']).toBe('kept');
    expect(echoed.headers['x-forwarded-for']).toBe('10.0.0.7, 127.0.0.1');
    expect(echoed.headers['x-forwarded-proto']).toBe('http');
    expect(echoed.headers['x-forwarded-host']).toBe(new URL(base).host);
  });

  it('passes redirects and the application error answers through untouched', async () => {
    const redirect = await fetch(`${base}/old-page`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/new-page');
    const broken = await fetch(`${base}/broken`);
    expect(broken.status).toBe(503);
    expect(broken.headers.get('retry-after')).toBe('7');
    expect(await broken.text()).toBe('app is down for maintenance');
  });

  it('streams a large download without buffering it', async () => {
    downloadGate = gate('download');
    const response = await request(`${base}/files/download?mb=${LARGE_MB}`);
    expect(response.statusCode).toBe(200);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of response.body) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes >= MB) downloadGate.open();
    }
    expect(bytes).toBe(LARGE_MB * MB);
    expect(hash.digest('hex')).toBe(expectedDigest(LARGE_MB * MB));
  }, 90_000);

  it('streams a large upload, even declared as JSON, without parsing or buffering it', async () => {
    uploadGate = gate('upload');
    const total = LARGE_MB * MB;
    async function* body() {
      for (let i = 0; i * CHUNK < total; i++) {
        yield chunkAt(i);
        if (i === 32) await uploadGate.wait();
      }
    }
    const response = await request(`${base}/files/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from(body()),
    });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ bytes: total, sha256: expectedDigest(total), contentType: 'application/json' });
  }, 90_000);

  it('proxies the application WebSocket with the handshake headers', async () => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/live`, { headers: { 'x-client': 'browser-1' } });
    const messages: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      socket.on('message', (data) => {
        messages.push(data.toString());
        if (messages.length === 1) socket.send('ping over the bridge');
        if (messages.length === 2) resolve();
      });
      socket.on('error', reject);
    });
    await done;
    socket.close();
    expect(JSON.parse(messages[0]!)).toEqual({ hello: 'browser-1', forwardedHost: new URL(base).host });
    expect(messages[1]).toBe('ping over the bridge');
  });

  it('sends a connection prefix to that connection application', async () => {
    const page = await fetch(`${base}/acme/settings/scim`);
    expect(page.status).toBe(200);
    expect(page.headers.get('x-app')).toBe('acme-app');
    expect(await page.text()).toContain('acme-app page /acme/settings/scim');
  });

  it('keeps the bridge routes: health, SCIM, reserved paths, unknown SCIM paths', async () => {
    expect(await (await fetch(`${base}/livez`)).json()).toEqual({ status: 'ok' });
    const scim = await fetch(`${base}/acme/scim/v2/Users`, { headers: { authorization: `Bearer ${secret}` } });
    expect(scim.status).toBe(200);
    expect(scim.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    // Unmatched paths under a base path are the bridge's, with its auth, never the application's.
    expect((await fetch(`${base}/acme/scim/v2/Nope`)).status).toBe(401);
    const unknown = await fetch(`${base}/acme/scim/v2/Nope/deeper`, { headers: { authorization: `Bearer ${secret}` } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    // SCIM v2 paths under no connection keep the probing protection.
    expect((await fetch(`${base}/nobody/scim/v2/Users`)).status).toBe(401);
    const reserved = await fetch(`${base}/admin/anything`);
    expect(reserved.status).toBe(404);
    expect(reserved.headers.get('x-app')).toBeNull();
  });

  it('answers 502 and 504 with a code when the application is down or too slow', async () => {
    const down = await fetch(`${base}/beta/home`);
    expect(down.status).toBe(502);
    expect(await down.json()).toEqual({ error: expect.any(String), code: 'GW_PROXY_UNREACHABLE' });
    const slow = await fetch(`${base}/slow`);
    expect(slow.status).toBe(504);
    expect(await slow.json()).toEqual({ error: 'the upstream did not answer in time', code: 'GW_PROXY_TIMEOUT' });
  });

  it('counts proxied requests in the metrics registry', async () => {
    const text = await register.getSingleMetricAsString('scim_bridge_proxy_requests_total');
    expect(text).toMatch(/scim_bridge_proxy_requests_total\{kind="pass-through",connection="",status="2xx"\} [1-9]/);
    expect(text).toMatch(/kind="pass-through",connection="beta",status="5xx"\} [1-9]/);
  });
});
