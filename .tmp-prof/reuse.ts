import zlib from 'node:zlib';
import { storedUserDoc } from '../bench/lib/entra.js';
const dict = Buffer.from(JSON.stringify({ id: '', schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: '', name: { givenName: '', familyName: '' }, emails: [{ primary: true, type: 'work', value: '' }] }));
const opts = { dictionary: dict, windowBits: 12, memLevel: 4, level: 6 };
const docs = Array.from({ length: 2000 }, (_, i) => JSON.stringify(storedUserDoc(i)));
const engine: any = zlib.createDeflateRaw(opts);
const inf: any = zlib.createInflateRaw(opts);
function enc(s: string) { const out = engine._processChunk(Buffer.from(s), zlib.constants.Z_FINISH); engine.reset(); return out as Buffer; }
function dec(b: Buffer) { const out = inf._processChunk(b, zlib.constants.Z_FINISH); inf.reset(); return out as Buffer; }
for (let r = 0; r < 3; r++) {
  let t = process.hrtime.bigint();
  const a = docs.map((d) => zlib.deflateRawSync(d, opts));
  const e1 = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  t = process.hrtime.bigint();
  const b = docs.map(enc);
  const e2 = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  t = process.hrtime.bigint();
  for (const x of a) zlib.inflateRawSync(x, opts);
  const d1 = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  t = process.hrtime.bigint();
  let ok = true;
  b.forEach((x, i) => { if (dec(x).toString() !== docs[i]) ok = false; });
  const d2 = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  console.log(`sync ${e1.toFixed(1)}/${d1.toFixed(1)} µs; reused ${e2.toFixed(1)}/${d2.toFixed(1)} µs; same bytes ${a.every((x, i) => x.equals(b[i]!))} roundtrip ${ok}`);
}
