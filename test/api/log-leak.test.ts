import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleLegacyApi } from '../../examples/sample-legacy-api/app.js';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { eventually, SAMPLE_MAPPING } from '../helpers/bridge.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { ENTERPRISE, groupBody, SCHEMA_PATCH, scimClient, userBody } from './support.js';

/**
 * A whole provisioning lifecycle at `trace`, the most talkative level, with API and worker
 * logging into one captured stream: users and groups created, read, filtered, patched,
 * replaced, rejected and deleted, deliveries to a real target, and failed authentication.
 * No line may carry a secret, a token, or any attribute value a client submitted.
 */

const secret = randomBytes(16).toString('hex');
const wrongSecret = randomBytes(16).toString('hex');
const legacyToken = randomBytes(16).toString('hex');
const prefix = `sbtest-logleak-${randomBytes(4).toString('hex')}`;
const t = () => randomBytes(4).toString('hex');

/** Every value the test submits; each is unique enough that finding it in a log means a leak. */
const submitted: string[] = [];
function value(label: string): string {
  const v = `${label}${t()}`;
  submitted.push(v);
  return v;
}
function email(label: string): string {
  const v = `${label}.${t()}@leak.example.com`;
  submitted.push(v);
  return v;
}

const lines: string[] = [];
let bridge: RunningBridge;
let legacy: Awaited<ReturnType<typeof startSampleLegacyApi>>;

beforeAll(async () => {
  legacy = await startSampleLegacyApi({ token: legacyToken });
  const stream = new PassThrough();
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    lines.push(...complete.filter(Boolean));
  });
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'trace',
    connections: [
      {
        id: 'acme',
        auth: { bearer: [secret] },
        target: { baseUrl: legacy.url, auth: { type: 'bearer', token: legacyToken } },
        mapping: SAMPLE_MAPPING,
        delivery: { backoffMs: 10, maxBackoffMs: 50, attempts: 3 },
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

describe('logs at trace level', () => {
  it('carry no secret, token or submitted value across a full lifecycle', async () => {
    const api = scimClient(`${bridge.url}/acme/scim/v2`, secret);
    const stranger = scimClient(`${bridge.url}/acme/scim/v2`, wrongSecret);
    const patch = (Operations: unknown[]) => ({ schemas: [SCHEMA_PATCH], Operations });

    // Users: create, read, filter, patch, replace, a rejected patch, delete.
    const userName = email('ada');
    const user = await api.request(
      'POST',
      '/Users',
      userBody(userName, {
        externalId: value('ext'),
        name: { givenName: value('Given'), familyName: value('Family') },
        title: value('Title'),
        [ENTERPRISE]: { department: value('Dept') },
      }),
    );
    expect(user.status).toBe(201);
    const id = user.body.id as string;
    const manager = await api.request('POST', '/Users', userBody(email('grace')));
    expect((await api.request('GET', `/Users/${id}`)).status).toBe(200);
    expect((await api.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).body.totalResults).toBe(1);
    expect((await api.request('GET', `/Users?filter=${encodeURIComponent(`emails[value eq "${email('probe')}"]`)}`)).status).toBe(200);
    expect((await api.request('GET', `/Users?filter=${encodeURIComponent(`userName zz "${value('badfilter')}"`)}`)).status).toBe(400);
    expect(
      (
        await api.request(
          'PATCH',
          `/Users/${id}`,
          patch([
            { op: 'replace', path: 'name.givenName', value: value('Renamed') },
            { op: 'add', path: 'emails', value: [{ type: 'home', value: email('home') }] },
            { op: 'add', path: `${ENTERPRISE}:manager`, value: manager.body.id },
          ]),
        )
      ).status,
    ).toBe(200);
    expect((await api.request('PATCH', `/Users/${id}`, patch([{ op: 'add', path: `${ENTERPRISE}:manager.value`, value: 4242 }]))).status).toBe(400);
    expect((await api.request('PATCH', `/Users/${id}`, patch([{ op: 'replace', path: 'active', value: value('maybe') }]))).status).toBe(400);
    expect((await api.request('PATCH', `/Users/${id}`, patch([{ op: 'replace', path: 'active', value: false }]))).status).toBe(200);
    const replaced = await api.request('PUT', `/Users/${id}`, userBody(email('ada2'), { name: { givenName: value('Put'), familyName: value('PutFamily') } }));
    expect(replaced.status).toBe(200);
    expect((await api.request('POST', '/Users', userBody(replaced.body.userName))).status).toBe(409);

    // Groups: create with a member, rename, member changes, replace, delete.
    const group = await api.request('POST', '/Groups', groupBody(value('Team'), { externalId: value('gext'), members: [{ value: id }] }));
    expect(group.status).toBe(201);
    const gid = group.body.id as string;
    expect((await api.request('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${group.body.displayName}"`)}&excludedAttributes=members`)).status).toBe(200);
    expect((await api.request('PATCH', `/Groups/${gid}`, patch([{ op: 'replace', path: 'displayName', value: value('Renamed Team') }]))).status).toBe(204);
    expect((await api.request('PATCH', `/Groups/${gid}`, patch([{ op: 'add', path: 'members', value: [{ value: manager.body.id }] }]))).status).toBe(204);
    expect((await api.request('PATCH', `/Groups/${gid}`, patch([{ op: 'remove', path: `members[value eq "${id}"]` }]))).status).toBe(204);
    expect((await api.request('PUT', `/Groups/${gid}`, groupBody(value('Put Team'), { members: [{ value: id }] }))).status).toBe(200);

    // Failed authentication, with and without a body.
    expect((await stranger.request('GET', '/Users')).status).toBe(401);
    expect((await stranger.request('POST', '/Users', userBody(email('intruder')))).status).toBe(401);
    expect((await api.request('GET', '/Users', undefined, { authorization: `Basic ${Buffer.from(`admin:${wrongSecret}`).toString('base64')}` })).status).toBe(401);

    // Let the worker deliver all of it, then delete and let it deliver the deletes.
    expect(await eventually(async () => lines.filter((l) => l.includes('delivery done')).length >= 4, { timeoutMs: 30_000 })).toBe(true);
    expect((await api.request('DELETE', `/Groups/${gid}`)).status).toBe(204);
    expect((await api.request('DELETE', `/Users/${id}`)).status).toBe(204);
    const doneBefore = lines.filter((l) => l.includes('delivery done')).length;
    expect(await eventually(async () => lines.filter((l) => l.includes('delivery done')).length >= doneBefore + 2, { timeoutMs: 30_000 })).toBe(true);

    // The logs did record the traffic (so the check below is not vacuous)...
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(40);
    expect(all).toContain(id);
    expect(all).toContain('/acme/scim/v2/Users');
    // ...and none of what must stay private.
    const forbidden = [secret, wrongSecret, legacyToken, Buffer.from(`admin:${wrongSecret}`).toString('base64'), ...submitted];
    for (const line of lines) {
      const lower = line.toLowerCase();
      for (const needle of forbidden) {
        for (const form of [needle.toLowerCase(), encodeURIComponent(needle).toLowerCase()]) {
          expect(lower.includes(form), `log line leaks ${needle}: ${line.slice(0, 400)}`).toBe(false);
        }
      }
    }
  });
});
