import { readFile } from 'node:fs/promises';

/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `BENCH_CPU_PROF=<dir> npm run bench`):
 * self time by area (our src/ folders, each dependency, Node internals, GC, idle) and the top
 * functions, so "where does the time go" has an answer without opening DevTools.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 * @see https://nodejs.org/api/cli.html#--cpu-prof
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `src/store`, `bullmq`, `node:internal`, `(garbage collector)`… */
function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency?.[1]) return dependency[1];
  // The benchmarks' children run the compiled code, from bench/.build/ (lib/child.ts).
  const own = /\/(src|bench|examples)\/([^/]+)\//.exec(url.replace('/bench/.build/', '/'));
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

export function summarise(profile: CpuProfile, top: number): { total: number; areas: [string, number][]; functions: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const micros = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    total += micros;
    const area = areaOf(node.callFrame);
    areas.set(area, (areas.get(area) ?? 0) + micros);
    const where = node.callFrame.url ? `${node.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${node.callFrame.lineNumber + 1}` : '';
    const name = `${node.callFrame.functionName || '(anonymous)'} ${where}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + micros);
  });
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { total, areas: sorted(areas), functions: sorted(functions).slice(0, top) };
}

const file = process.argv[2];
if (file) {
  const { total, areas, functions } = summarise(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 25));
  const pct = (micros: number) => `${((100 * micros) / total).toFixed(1).padStart(5)} %`;
  console.log(`${(total / 1e6).toFixed(2)} s sampled\n\nself time by area:`);
  for (const [area, micros] of areas) if (micros / total >= 0.005) console.log(`  ${pct(micros)}  ${area}`);
  console.log('\ntop functions (self time):');
  for (const [name, micros] of functions) console.log(`  ${pct(micros)}  ${name}`);
} else {
  console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]');
  process.exitCode = 2;
}
