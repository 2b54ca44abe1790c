import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const filter = process.argv[3] ?? 'src/';
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
p.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const incl = new Map<string, number>();
let active = 0;
for (const [id, t] of self) {
  const fn = byId.get(id).callFrame.functionName;
  if (fn === '(idle)') continue;
  active += t;
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur).callFrame;
    const url = f.url as string;
    if (!url.includes(filter)) continue;
    const key = `${f.functionName || '(anon)'} ${url.replace(/.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber}`;
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + t);
  }
}
console.log('active ms', Math.round(active / 1000));
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 50))) console.log((100 * t / active).toFixed(1).padStart(5), '%', k);
