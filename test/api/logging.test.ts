import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleLegacyApi } from '../../examples/sample-legacy-api/app.js';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { eventually, SAMPLE_MAPPING } from '../helpers/bridge.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { scimClient, userBody } from './support.js';

/**
 * The bridge's own logs (default logger, debug level, API + worker) never carry the SCIM
 * secret, the target's token, or user data from bodies and filter query strings.
 */

const secret = randomBytes(16).toString('hex');
const legacyToken = randomBytes(16).toString('hex');
const prefix = `sbtest-logging-${randomBytes(4).toString('hex')}`;
const email = `log.${randomBytes(3).toString('hex')}@example.com`;
let log = '';
let bridge: RunningBridge;
let legacy: Awaited<ReturnType<typeof startSampleLegacyApi>>;

beforeAll(async () => {
  legacy = await startSampleLegacyApi({ token: legacyToken });
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'debug',
    connections: [
      {
        id: 'acme',
        auth: { bearer: [secret] },
        target: { baseUrl: legacy.url, auth: { type: 'bearer', token: legacyToken } },
        mapping: SAMPLE_MAPPING,
        delivery: { backoffMs: 10 },
      },
    ],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logStream: stream });
});

afterAll(async () => {
  await bridge?.close();
  await legacy?.close();
  await dropPrefix(prefix);
});

describe('logs', () => {
  it('record requests and deliveries without secrets, tokens or user data', async () => {
    const client = scimClient(`${bridge.url}/acme/scim/v2`, secret);
    expect((await client.request('GET', `/Users?filter=userName+eq+%22${encodeURIComponent(email)}%22`)).status).toBe(200);
    const created = await client.request('POST', '/Users', userBody(email));
    expect(created.status).toBe(201);
    expect((await scimClient(`${bridge.url}/acme/scim/v2`, 'wrong').request('GET', '/Users')).status).toBe(401);
    expect(await eventually(async () => log.includes('delivery done'))).toBe(true);

    expect(log).toContain('"path":"/acme/scim/v2/Users"');
    expect(log).toContain(created.body.id);
    for (const leaked of [secret, legacyToken, email, encodeURIComponent(email), 'Bearer ']) expect(log).not.toContain(leaked);
  });
});
