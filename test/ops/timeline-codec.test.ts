import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/ops/failure.js';
import { CODEC_TABLES, decodeEvent, encodeEvent } from '../../src/ops/timeline-codec.js';
import type { DeliveryAttemptEvent, ProxyWriteEvent, ScimChangeEvent, TimelineEvent } from '../../src/ops/timeline.js';
import type { ResourceType } from '../../src/scim/types.js';

/**
 * The stored form of timeline events (src/ops/timeline-codec.ts): whatever is appended reads
 * back equal, with its keys in the writers' order (the admin API's JSON is unchanged), for every
 * kind of event, optional fields absent or present, any text; and whatever is stored that no
 * version wrote is skipped, never thrown.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_202);
const RUNS = Number(process.env.CODEC_RUNS ?? 2_000);

function roundTrip(type: ResourceType, id: string, event: TimelineEvent): TimelineEvent | undefined {
  return decodeEvent(type, id, encodeEvent(type, id, event))?.event;
}

/** Equal, and equal as JSON: the same keys in the same order. */
function expectSame(type: ResourceType, id: string, event: TimelineEvent): void {
  const decoded = roundTrip(type, id, event);
  expect(decoded).toEqual(event);
  expect(JSON.stringify(decoded)).toBe(JSON.stringify(event));
}

const ID = 'a92f6aab-3445-4895-be24-5bd69f189d80';
const REQUEST = '4ed512c5-4f68-4df1-b12c-adac3123c125';
const E = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** What a new user's create and its first delivery append (as captured from a real bridge). */
const CREATE: ScimChangeEvent = {
  kind: 'scim',
  at: '2025-12-02T01:02:58.531Z',
  revision: 1,
  op: 'create',
  requestId: REQUEST,
  attributes: ['active', 'displayName', 'emails', 'externalId', 'name.familyName', 'name.formatted', 'name.givenName', `${E}.department`, `${E}.employeeNumber`, 'userName'],
};
const DELIVERED: DeliveryAttemptEvent = {
  kind: 'delivery',
  at: '2025-12-02T01:02:58.535Z',
  jobId: `User-${ID}-r1`,
  attempt: 1,
  revision: 1,
  requestId: REQUEST,
  outcome: 'delivered',
  result: 'converged',
  durationMs: 76,
  calls: [
    { action: 'lookup', method: 'GET', path: '/api/v1/accounts?…', status: 200, durationMs: 16, outcome: 'ok' },
    { action: 'create', method: 'POST', path: '/api/v1/accounts', status: 201, durationMs: 12, outcome: 'ok' },
  ],
};

/*
 * Every field of every kind present. `Required<…>` makes this file fail to compile when an event
 * type gains a field, until it is added here, and then the round trip fails until the codec
 * stores it.
 */
const FULL_CALL: Required<CallRecord> = { action: 'update', method: 'PATCH', path: '/api/v1/accounts/{targetId}', status: 503, durationMs: 30_001, outcome: 'retry', code: 'GW_DELIVERY_RETRYABLE' };
const FULL_SCIM: Required<ScimChangeEvent> = { kind: 'scim', at: '2025-12-02T01:02:58.531Z', revision: 7, op: 'patch', requestId: 'req-1', attributes: ['displayName'] };
const FULL_DELIVERY: Required<DeliveryAttemptEvent> = {
  kind: 'delivery',
  at: '2025-12-02T01:02:58.531Z',
  jobId: `User-${ID}-r7-linked-x`,
  attempt: 3,
  revision: 7,
  requestId: REQUEST,
  outcome: 'failed',
  result: 'stale',
  durationMs: 12,
  code: 'GW_TARGET_REJECTED',
  calls: [FULL_CALL, { ...FULL_CALL, durationMs: 1 }],
};
const FULL_PROXY: Required<ProxyWriteEvent> = {
  kind: 'proxy',
  at: '2025-12-02T01:02:58.531Z',
  op: 'replace',
  requestId: REQUEST,
  attributes: ['userName', `${E}:manager`],
  rewrites: ['lowercaseOps', 'dropNulls'],
  outcome: 'replay-retry',
  status: 202,
  upstreamStatus: 503,
  durationMs: 40,
  code: 'GW_PROXY_REPLAY_RETRY',
  jobId: '17',
  attempt: 2,
};

describe('timeline codec: known events', () => {
  it('stores a new user\'s create and first delivery in 61 and 113 bytes, exactly these', () => {
    expect(encodeEvent('User', ID, CREATE)).toBe('[1,1764637378531,0,1,275549009965,["TtUSxU9oTfGxLK2sMSPBJQ"]]');
    expect(encodeEvent('User', ID, DELIVERED)).toBe(
      '[2,1764637378535,1,1,0,76,[[0,0,"/api/v1/accounts?…",200,16,0],[1,1,16,201,12,0]],["TtUSxU9oTfGxLK2sMSPBJQ"],4]',
    );
    expect(Buffer.byteLength(encodeEvent('User', ID, CREATE))).toBe(61);
    expect(Buffer.byteLength(encodeEvent('User', ID, DELIVERED))).toBe(113);
    expectSame('User', ID, CREATE);
    expectSame('User', ID, DELIVERED);
  });

  it('round-trips every field of every kind', () => {
    for (const event of [FULL_SCIM, FULL_DELIVERY, FULL_PROXY]) expectSame('User', ID, event);
    expectSame('Group', 'g1', { ...FULL_DELIVERY, jobId: 'Group-g1-r7' });
  });

  it('round-trips each kind with every optional field absent', () => {
    const { requestId: _r, ...scim } = FULL_SCIM;
    const { requestId: _q, result: _s, code: _c, ...delivery } = FULL_DELIVERY;
    const proxy: ProxyWriteEvent = { kind: 'proxy', at: FULL_PROXY.at, op: 'delete', attributes: [], rewrites: [], outcome: 'failed', durationMs: 0 };
    expectSame('User', ID, scim);
    expectSame('User', ID, { ...delivery, jobId: `User-${ID}-r7`, calls: [{ action: 'lookup', method: 'GET', path: '/x', durationMs: 0, outcome: 'reject' }] });
    expectSame('User', ID, proxy);
  });

  it('reads events stored as JSON objects by earlier versions as they are', () => {
    for (const event of [CREATE, DELIVERED, FULL_PROXY]) {
      expect(decodeEvent('User', ID, JSON.stringify(event))?.event).toEqual(event);
    }
    expect(decodeEvent('User', ID, JSON.stringify(CREATE))?.ms).toBe(Date.parse(CREATE.at));
  });

  it('keeps the stored tables in the order the format fixed', () => {
    // Stored indices refer to these positions: a table may only grow at its end.
    expect(CODEC_TABLES.OPS).toEqual(['create', 'replace', 'patch', 'delete', 'membership']);
    expect(CODEC_TABLES.METHODS).toEqual(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
    expect(CODEC_TABLES.ATTRIBUTES.slice(0, 3)).toEqual(['active', 'addresses', 'displayName']);
    expect(CODEC_TABLES.ATTRIBUTES).toHaveLength(41);
    // A mask is a safe integer, and sorted lists (as changedAttributes() gives) can use one.
    expect(CODEC_TABLES.ATTRIBUTES.length).toBeLessThanOrEqual(53);
    expect([...CODEC_TABLES.ATTRIBUTES].sort()).toEqual([...CODEC_TABLES.ATTRIBUTES]);
    expect(new Set(CODEC_TABLES.ATTRIBUTES).size).toBe(CODEC_TABLES.ATTRIBUTES.length);
  });
});

/* Generators. Text of every kind: ASCII, any code point, lone surrogates, JSON's special characters. */
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  fc.constantFrom('', '"', '\\', '\n', '\u2028', '…', '~', '[', '0', 'null'),
);
const int = fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer(), fc.maxSafeInteger());
const at = fc.oneof(
  { weight: 3, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: fc.constantFrom('2024-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '2025-01-01T24:00:00.000Z', '0050-01-01T00:00:00.000Z', '2025-01-01T00:00:00Z', '1969-12-31T23:59:59.999Z') },
  { weight: 1, arbitrary: text },
);
const requestId = fc.option(fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase()), fc.uuid().map((u) => u.replace(/-/g, '_')), text), { nil: undefined });
const attributes = fc.oneof(
  fc.subarray([...CODEC_TABLES.ATTRIBUTES]),
  fc.shuffledSubarray([...CODEC_TABLES.ATTRIBUTES]),
  fc.array(fc.oneof(fc.constantFrom(...CODEC_TABLES.ATTRIBUTES), text), { maxLength: 60 }),
);
function named<T extends string>(table: readonly T[]): fc.Arbitrary<T> {
  return fc.oneof(fc.constantFrom(...table), text as fc.Arbitrary<T>);
}
const path = fc.oneof(fc.constantFrom('/api/v1/accounts?…', '/api/v1/accounts', '/api/v1/accounts/{targetId}', '/api/v1/groups/{targetId}/members/{memberTargetId}', '/', ''), text);
const call: fc.Arbitrary<CallRecord> = fc
  .record({
    action: named(CODEC_TABLES.ACTIONS),
    method: named(CODEC_TABLES.METHODS),
    path,
    status: fc.option(int, { nil: undefined }),
    durationMs: int,
    outcome: named(CODEC_TABLES.CALL_OUTCOMES) as fc.Arbitrary<CallRecord['outcome']>,
    code: fc.option(text, { nil: undefined }),
  })
  .map((c) => ({
    action: c.action,
    method: c.method,
    path: c.path,
    ...(c.status === undefined ? {} : { status: c.status }),
    durationMs: c.durationMs,
    outcome: c.outcome,
    ...(c.code === undefined ? {} : { code: c.code }),
  }));
const calls = fc.oneof(fc.array(call, { maxLength: 4 }), fc.array(call, { minLength: 50, maxLength: 300 }));
const resource = fc.record({ type: fc.constantFrom<ResourceType>('User', 'Group'), id: fc.oneof(fc.uuid(), text) });

const scimEvent = fc
  .record({ at, op: named(CODEC_TABLES.OPS) as fc.Arbitrary<ScimChangeEvent['op']>, revision: int, requestId, attributes })
  .map(({ at, op, revision, requestId, attributes }): ScimChangeEvent => ({ kind: 'scim', at, revision, op, ...(requestId === undefined ? {} : { requestId }), attributes }));

function deliveryEvent(type: ResourceType, id: string): fc.Arbitrary<DeliveryAttemptEvent> {
  return fc
    .record({
      at,
      attempt: int,
      revision: int,
      requestId,
      outcome: named(CODEC_TABLES.DELIVERY_OUTCOMES) as fc.Arbitrary<DeliveryAttemptEvent['outcome']>,
      result: fc.option(named(CODEC_TABLES.RESULTS) as fc.Arbitrary<NonNullable<DeliveryAttemptEvent['result']>>, { nil: undefined }),
      durationMs: int,
      code: fc.option(text, { nil: undefined }),
      calls,
      job: fc.oneof(fc.constant('usual'), fc.constant('other revision'), text.map((suffix) => ({ suffix })), text.map((more) => ({ more })), text),
    })
    .map((e): DeliveryAttemptEvent => {
      const usual = `${type}-${id}-r${e.revision}`;
      const job = e.job;
      const jobId =
        job === 'usual' ? usual
        : job === 'other revision' ? `${type}-${id}-r${e.revision + 1}`
        : typeof job === 'string' ? job
        : 'suffix' in job ? `${usual}-${job.suffix}`
        : `${usual}${job.more}`;
      return {
        kind: 'delivery',
        at: e.at,
        jobId,
        attempt: e.attempt,
        revision: e.revision,
        ...(e.requestId === undefined ? {} : { requestId: e.requestId }),
        outcome: e.outcome,
        ...(e.result === undefined ? {} : { result: e.result }),
        durationMs: e.durationMs,
        ...(e.code === undefined ? {} : { code: e.code }),
        calls: e.calls,
      };
    });
}

const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
const proxyEvent = fc
  .record({
    at,
    op: named(CODEC_TABLES.OPS.filter((op) => op !== 'membership')) as fc.Arbitrary<ProxyWriteEvent['op']>,
    requestId,
    attributes,
    rewrites: fc.array(named(CODEC_TABLES.REWRITES), { maxLength: 10 }) as fc.Arbitrary<ProxyWriteEvent['rewrites']>,
    outcome: named(CODEC_TABLES.PROXY_OUTCOMES) as fc.Arbitrary<ProxyWriteEvent['outcome']>,
    status: maybe(int),
    upstreamStatus: maybe(int),
    durationMs: int,
    code: maybe(text),
    jobId: maybe(text),
    attempt: maybe(int),
  })
  .map((e): ProxyWriteEvent => {
    const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
    return {
      kind: 'proxy',
      at: e.at,
      op: e.op,
      ...optional('requestId', e.requestId),
      attributes: e.attributes,
      rewrites: e.rewrites,
      outcome: e.outcome,
      ...optional('status', e.status),
      ...optional('upstreamStatus', e.upstreamStatus),
      durationMs: e.durationMs,
      ...optional('code', e.code),
      ...optional('jobId', e.jobId),
      ...optional('attempt', e.attempt),
    };
  });

describe('timeline codec: properties', () => {
  const options = { seed: SEED, numRuns: RUNS };

  it('decode(encode(e)) is e, keys in the same order, for SCIM changes', () => {
    fc.assert(fc.property(resource, scimEvent, ({ type, id }, event) => expectSame(type, id, event)), options);
  });

  it('… for delivery attempts, with any job id and call list', () => {
    const arbitrary = resource.chain(({ type, id }) => deliveryEvent(type, id).map((event) => ({ type, id, event })));
    fc.assert(fc.property(arbitrary, ({ type, id, event }) => expectSame(type, id, event)), options);
  });

  it('… for proxied writes', () => {
    fc.assert(fc.property(resource, proxyEvent, ({ type, id }, event) => expectSame(type, id, event)), options);
  });

  it('gives the time of each stored event in epoch ms, as Date.parse of its at', () => {
    fc.assert(
      fc.property(resource, scimEvent, ({ type, id }, event) => {
        expect(decodeEvent(type, id, encodeEvent(type, id, event))?.ms).toBe(Date.parse(event.at));
      }),
      options,
    );
  });

  it('skips anything stored that no version wrote, without throwing', () => {
    const stored = fc.oneof(
      text,
      fc.json(),
      fc.tuple(fc.constantFrom(1, 2, 3, 4, 0, -1), fc.array(fc.jsonValue(), { maxLength: 14 })).map(([tag, rest]) => JSON.stringify([tag, ...rest])),
    );
    fc.assert(
      fc.property(resource, stored, ({ type, id }, element) => {
        const decoded = decodeEvent(type, id, element);
        if (decoded !== undefined) expect(typeof decoded.event.at).toBe('string');
      }),
      options,
    );
  });
});

describe('timeline codec: malformed elements', () => {
  it.each([
    '',
    'not json',
    'null',
    '5',
    '"text"',
    '[]',
    '[9,1]',
    '{"kind":1,"at":"x"}',
    '{"at":"2025-01-01T00:00:00.000Z"}',
    '[1]',
    '[1,1,99,1,0]',
    '[1,1,0,1,-1]',
    '[1,1,0,1,1.5]',
    '[1,1,0,1,2199023255552]',
    '[1,1e300,0,1,0]',
    '[1,true,0,1,0]',
    '[1,1,0,1,[99]]',
    '[1,1,0,1,0,["short"]]',
    '[1,1,0,1,0,[5]]',
    '[2,1,1,1,0,5,"calls"]',
    '[2,1,1,1,0,5,[[0,0,0,200,1,0]]]',
    '[2,1,1,1,0,5,[[0,0,"/a",200,1,0],[0,0,[99,"x"],200,1,0]]]',
    '[2,1,1,1,0,5,[[0,0,"/a",200,1,0],[0,0,3,200,1,0]]]',
    '[2,1,1,1,0,5,[5]]',
    '[2,1,1,1,0,5,[],null,null,null,[5]]',
    '[2,1,1,1,0,5,[],null,99]',
    '[3,1,0,0,"rewrites",0,1]',
    '[3,1,0,0,[99],0,1]',
  ])('skips %j', (element) => {
    expect(decodeEvent('User', 'u1', element)).toBeUndefined();
  });
});
