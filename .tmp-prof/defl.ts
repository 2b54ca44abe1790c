import { encodeDocument, decodeDocument } from '../src/store/doc-codec.js';
import { storedUserDoc } from '../bench/lib/entra.js';
const docs = Array.from({ length: 2000 }, (_, i) => storedUserDoc(i));
for (let r = 0; r < 3; r++) {
  let t = process.hrtime.bigint();
  const enc = docs.map((d) => encodeDocument(d, true));
  const e = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  t = process.hrtime.bigint();
  for (const s of enc) decodeDocument(s);
  const d = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  t = process.hrtime.bigint();
  for (const x of docs) JSON.stringify(x);
  const j = Number(process.hrtime.bigint() - t) / 1e3 / docs.length;
  console.log(`encode ${e.toFixed(1)} µs, decode ${d.toFixed(1)} µs, stringify ${j.toFixed(1)} µs, size ${enc[0]!.length}`);
}
