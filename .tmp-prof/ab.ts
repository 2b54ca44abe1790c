import { deflateRawSync } from 'node:zlib';
import { storedUserDoc } from '../bench/lib/entra.js';
const DICT = Buffer.alloc(1029, 'a');
const docs = Array.from({ length: 3000 }, (_, i) => JSON.stringify(storedUserDoc(i)));
const res: Record<string, number[]> = { '6': [], '1': [] };
for (let r = 0; r < 8; r++) for (const level of [6, 1]) {
  const opts = { dictionary: DICT, level, memLevel: 4, windowBits: 12 };
  const t = process.hrtime.bigint();
  for (const d of docs) deflateRawSync(d, opts);
  res[String(level)]!.push(Number(process.hrtime.bigint() - t) / 1e3 / docs.length);
}
for (const [k, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(k, v.map((x) => x.toFixed(1)).join(' ')); }
