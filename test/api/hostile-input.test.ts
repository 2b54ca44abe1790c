import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  it('answers a 100 KB PATCH path, a 100 KB unknown member id and a 14 KB filter with 400 while /livez keeps answering', async () => {
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
      api.request('GET', `/Users?filter=${'d'.repeat(14_500)}`),
    ];
    // Probe while the hostile requests are in flight: a blocked event loop cannot answer.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await livez()).toBe(200);
    const answers = await Promise.all(hostile);
    for (const res of answers) expectScimErrorShape(res, 400);
    // Nothing was stored: the user and the group read back as before.
    expect((await api.request('GET', `/Users/${user.body.id}`)).body.meta.version).toBe(user.body.meta.version);
    expect((await api.request('GET', `/Groups/${group.body.id}`)).body.meta.version).toBe(group.body.meta.version);
  });
});
