/**
 * Measures Redis memory per stored Entra user (document, revision, every index entry, list order
 * and delivery state), for the product's ≤ 2 KB target. Not a test: numbers depend on the
 * machine and on what else uses Redis, so they go in reports, not assertions.
 *
 *   npx tsx test/store/measure-memory.ts [typical|full] [users=10000] [plain]
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import { createStoreKeys } from '../../src/store/keys.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

/** What Entra's default user attribute mapping sends for a typical account (no phone, no address). */
function entraTypicalUser(i: number): ScimResource {
  const { phoneNumbers: _phones, addresses: _addresses, preferredLanguage: _language, ...typical } = entraFullUser(i);
  return typical;
}

/** What Entra's default user attribute mapping sends for a fully filled-in account. */
function entraFullUser(i: number): ScimResource {
  const userName = `first.last${i}@contoso.onmicrosoft.com`;
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    schemas: [SCHEMA_USER, SCHEMA_ENTERPRISE_USER],
    externalId: `firstlast${i}`,
    userName,
    active: true,
    displayName: `First Last ${i}`,
    title: 'Account Executive',
    preferredLanguage: 'en-US',
    name: { formatted: `First Last ${i}`, familyName: 'Last', givenName: 'First' },
    emails: [{ primary: true, type: 'work', value: userName }],
    phoneNumbers: [{ type: 'work', value: '+1 425 555 0100' }, { type: 'mobile', value: '+1 425 555 0101' }],
    addresses: [
      { type: 'work', formatted: '1 Microsoft Way, Redmond, WA 98052, US', streetAddress: '1 Microsoft Way', locality: 'Redmond', region: 'WA', postalCode: '98052', country: 'US', primary: true },
    ],
    [SCHEMA_ENTERPRISE_USER]: { employeeNumber: String(100000 + i), department: 'Sales', manager: { value: randomUUID() } },
    meta: { resourceType: 'User', created: now, lastModified: now },
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

const profile = process.argv[2] === 'full' ? 'full' : 'typical';
const entraDefaultUser = profile === 'full' ? entraFullUser : entraTypicalUser;
const users = Number(process.argv[3] ?? 10_000);
const redis = new Redis(TEST_REDIS_URL);
const prefix = `sbmeasure-${randomUUID().slice(0, 8)}`;
const compressDocuments = process.argv[4] !== 'plain';
const store = createRedisStore(redis, { prefix, compressDocuments });
try {
  const sample = entraDefaultUser(0);
  const before = await usedMemory(redis);
  for (let start = 0; start < users; start += 500) {
    const batch = Array.from({ length: Math.min(500, users - start) }, (_, k) => entraDefaultUser(start + k));
    await Promise.all(
      batch.map(async (doc) => {
        await store.create('User', doc);
        await store.setDeliveryState('User', doc.id, { targetId: String(900000 + start), revision: 1, bodyHash: 'a3f1c2e4b5d6a7b8', active: true });
      }),
    );
  }
  const after = await usedMemory(redis);
  const [firstId] = (await store.list('User', 1, 1)).ids;
  const docBytes = await redis.memory('USAGE', createStoreKeys(prefix).doc('User', firstId ?? ''));
  console.log(`${profile} users: ${users}, compressed: ${compressDocuments}, document JSON: ${JSON.stringify(sample).length} B`);
  console.log(`resource record (MEMORY USAGE, one user): ${docBytes} B`);
  console.log(`used_memory growth per user (everything incl. indexes): ${Math.round((after - before) / users)} B`);
} finally {
  await store.clear();
  await redis.quit();
}
