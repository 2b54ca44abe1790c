import { deflateRawSync } from 'node:zlib';
import { storedUserDoc } from '../bench/lib/entra.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER } from '../src/scim/types.js';
const DICT = Buffer.from(JSON.stringify({ id: '', schemas: [SCHEMA_USER, SCHEMA_GROUP, SCHEMA_ENTERPRISE_USER], externalId: '', userName: '', active: true, displayName: '', nickName: '', title: '', userType: '', preferredLanguage: '', locale: '', timezone: '', name: { formatted: '', familyName: '', givenName: '', middleName: '', honorificPrefix: '', honorificSuffix: '' }, emails: [{ primary: true, type: 'work', value: '' }, { type: 'other', value: '' }], phoneNumbers: [{ type: 'work', value: '' }, { type: 'mobile', value: '' }, { type: 'fax', value: '' }], addresses: [{ type: 'work', formatted: '', streetAddress: '', locality: '', region: '', postalCode: '', country: '', primary: true }], [SCHEMA_ENTERPRISE_USER]: { employeeNumber: '', department: '', costCenter: '', organization: '', division: '', manager: { value: '' } }, meta: { resourceType: 'User', created: '2025-01-01T00:00:00.000Z', lastModified: '2025-01-01T00:00:00.000Z' } }));
const docs = Array.from({ length: 3000 }, (_, i) => JSON.stringify(storedUserDoc(i)));
const res: Record<string, number[]> = { '6': [], '1': [] };
for (let r = 0; r < 8; r++) for (const level of [6, 1]) {
  const opts = { dictionary: DICT, level, memLevel: 4, windowBits: 12 };
  const t = process.hrtime.bigint();
  for (const d of docs) deflateRawSync(d, opts);
  res[String(level)]!.push(Number(process.hrtime.bigint() - t) / 1e3 / docs.length);
}
for (const [k, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(k, v.map((x) => x.toFixed(1)).join(' ')); }
