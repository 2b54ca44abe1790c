import { deflateSync, inflateSync, strToU8, strFromU8 } from '/tmp/ff/node_modules/fflate/esm/index.mjs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { encodeDocument } from '../src/store/doc-codec.js';
import { storedUserDoc } from '../bench/lib/entra.js';
// rebuild the same dictionary the codec uses
const src = await import('node:fs').then((fs) => fs.readFileSync('src/store/doc-codec.ts', 'utf8'));
const docs = Array.from({ length: 2000 }, (_, i) => storedUserDoc(i));
const sample = encodeDocument(docs[0]!, true);
// get dictionary through codec internals: re-create by decoding
console.log('codec sample', sample.length);
const dict = Buffer.from(JSON.stringify({ id: '' })); // placeholder: measure speed only
for (let r = 0; r < 3; r++) {
  let t = process.hrtime.bigint();
  const enc = docs.map((d) => deflateSync(strToU8(JSON.stringify(d)), { level: 6, mem: 4, dictionary: dict }));
  const e = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  t = process.hrtime.bigint();
  for (const s of enc) strFromU8(inflateSync(s, { dictionary: dict }));
  const d = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  t = process.hrtime.bigint();
  const enc2 = docs.map((d) => deflateRawSync(JSON.stringify(d), { dictionary: dict, windowBits: 12, memLevel: 4, level: 6 }));
  const e2 = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  console.log(`fflate encode ${e.toFixed(1)} µs decode ${d.toFixed(1)} µs size ${enc[0]!.length}; zlib encode ${e2.toFixed(1)} size ${enc2[0]!.length}`);
}
