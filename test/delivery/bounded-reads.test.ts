import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyOutcome } from '../../src/delivery/classify.js';
import { createTargetClient, type TargetClient } from '../../src/delivery/http-client.js';
import { targetSchema } from '../../src/config/schema.js';
import { BridgeError } from '../../src/lib/errors.js';
import { startServer, type TestServer } from '../helpers/http-server.js';

/**
 * Issue 5 "unbounded target answers": a target that streams a 400 MB answer must not be read into
 * memory. The client stops at `maxResponseBytes`, drops the socket and fails the call for good.
 */

const HUGE_BYTES = 400 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');
const CAP = 256 * 1024;

let target: TestServer;
let client: TargetClient;
/** Bytes the target managed to write per request, and whether the client hung up early. */
const streams: Array<{ written: number; closedEarly: boolean }> = [];

/** Writes `total` bytes with backpressure, stopping when the client goes away. */
function stream(res: ServerResponse, total: number, withLength: boolean): void {
  const record = { written: 0, closedEarly: false };
  streams.push(record);
  res.writeHead(200, { 'content-type': 'application/json', ...(withLength ? { 'content-length': String(total) } : {}) });
  res.on('close', () => {
    if (record.written < total) record.closedEarly = true;
  });
  const pump = () => {
    while (record.written < total && !res.destroyed) {
      record.written += CHUNK.length;
      if (!res.write(CHUNK)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

beforeAll(async () => {
  target = await startServer((req, res) => {
    req.resume();
    if (req.url === '/huge-chunked') stream(res, HUGE_BYTES, false);
    else if (req.url === '/huge-declared') stream(res, HUGE_BYTES, true);
    else if (req.url === '/just-under') res.writeHead(200).end('"' + 'y'.repeat(CAP - 2) + '"');
    else res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"a1"}');
  });
  client = createTargetClient(targetSchema.parse({ baseUrl: target.url, timeoutMs: 60_000, maxResponseBytes: CAP }));
});

afterAll(async () => {
  await client?.close();
  await target?.close();
});

describe('bounded reads of target answers', () => {
  it.each([
    ['chunked, no length', '/huge-chunked'],
    ['with a Content-Length over the cap', '/huge-declared'],
  ])('fails a 400 MB answer (%s) for good with a clear reason, reading only about the cap', async (_label, path) => {
    const rssBefore = process.memoryUsage().rss;
    const error = await client.send({ method: 'GET', path, headers: {} }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(BridgeError);
    expect((error as BridgeError).code).toBe('GW_DELIVERY_TOO_LARGE');
    expect((error as BridgeError).message).toBe(`GET ${path} answered 200 with more than ${CAP} bytes (target.maxResponseBytes)`);

    // The classifier turns it into a permanent failure whose reason names the cause.
    const verdict = classifyOutcome({ method: 'GET', path, action: 'lookup' }, { error });
    expect(verdict).toMatchObject({ kind: 'reject', code: 'GW_DELIVERY_TOO_LARGE' });
    expect(verdict.kind === 'reject' && verdict.reason).toMatch(/^GW_DELIVERY_TOO_LARGE GET \/huge-\w+: .*more than 262144 bytes/);

    // The client hung up: the target could write nowhere near the 400 MB.
    const served = await waitFor(() => streams.find((s) => s.closedEarly && s.written < HUGE_BYTES));
    expect(served?.written).toBeLessThan(64 * 1024 * 1024);
    // Memory stayed flat (the unbounded reader grew by about 1.7 GB here).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * 1024 * 1024);
    streams.length = 0;
  });

  it('reads an answer up to the cap as before', async () => {
    const small = await client.send({ method: 'POST', path: '/users', headers: {}, body: { a: 1 } });
    expect(small).toMatchObject({ status: 201, json: { id: 'a1' } });
    const under = await client.send({ method: 'GET', path: '/just-under', headers: {} });
    expect(under.bodyText).toHaveLength(CAP);
  });

  it('defaults the cap to 2 MiB', () => {
    expect(targetSchema.parse({ baseUrl: 'http://127.0.0.1:1' }).maxResponseBytes).toBe(2 * 1024 * 1024);
  });
});

async function waitFor<T>(probe: () => T | undefined, tries = 200): Promise<T | undefined> {
  for (let i = 0; i < tries; i++) {
    const value = probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  return probe();
}
