import { deflateRawSync } from 'node:zlib';
import { storedUserDoc } from '../bench/lib/entra.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER } from '../src/scim/types.js';
const src = (await import('node:fs')).readFileSync('src/store/doc-codec.ts', 'utf8');
// same dictionary as codec
const DICT = Buffer.from(JSON.stringify({ id: '', schemas: [SCHEMA_USER, SCHEMA_GROUP, SCHEMA_ENTERPRISE_USER], externalId: '', userName: '', active: true, displayName: '', nickName: '', title: '', userType: '', preferredLanguage: '', locale: '', timezone: '', name: { formatted: '', familyName: '', givenName: '', middleName: '', honorificPrefix: '', honorificSuffix: '' }, emails: [{ primary: true, type: 'work', value: '' }, { type: 'other', value: '' }], phoneNumbers: [{ type: 'work', value: '' }, { type: 'mobile', value: '' }, { type: 'fax', value: '' }], addresses: [{ type: 'work', formatted: '', streetAddress: '', locality: '', region: '', postalCode: '', country: '', primary: true }], [SCHEMA_ENTERPRISE_USER]: { employeeNumber: '', department: '', costCenter: '', organization: '', division: '', manager: { value: '' } }, meta: { resourceType: 'User', created: '2025-01-01T00:00:00.000Z', lastModified: '2025-01-01T00:00:00.000Z' } }));
console.log('dict bytes', DICT.length, src.length > 0);
const docs = Array.from({ length: 3000 }, (_, i) => JSON.stringify(storedUserDoc(i)));
for (const [level, memLevel, windowBits, strategy] of [[6, 4, 12, 0], [1, 4, 12, 0], [2, 4, 12, 0], [6, 1, 12, 0], [6, 4, 11, 0], [1, 1, 11, 0], [6, 4, 12, 1]] as const) {
  const opts = { dictionary: DICT, level, memLevel, windowBits, strategy };
  for (let i = 0; i < 300; i++) deflateRawSync(docs[i]!, opts);
  const t = process.hrtime.bigint();
  let size = 0;
  for (const d of docs) size += deflateRawSync(d, opts).length;
  console.log(`level ${level} mem ${memLevel} wb ${windowBits} st ${strategy}: ${(Number(process.hrtime.bigint() - t) / 1e3 / docs.length).toFixed(1)} µs, ${Math.round(size / docs.length)} B`);
}
const t = process.hrtime.bigint();
for (const d of docs) deflateRawSync(d, { level: 6, memLevel: 4, windowBits: 12 });
console.log(`no dict: ${(Number(process.hrtime.bigint() - t) / 1e3 / docs.length).toFixed(1)} µs`);
