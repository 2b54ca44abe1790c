import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { compare, parseCompareArgs } from './compare.js';
import { delivery } from './delivery.js';
import { changeCost } from './change-cost.js';
import { endToEnd } from './end-to-end.js';
import { flatCost } from './flat-cost.js';
import { frontDoor } from './front-door.js';
import { frontDoorKinds } from './front-door-kinds.js';
import { connectRedis } from './lib/redis.js';
import type { BenchmarkResult } from './lib/result.js';
import { printTable } from './lib/table.js';

/**
 * `npm run bench [-- name…]`: runs the benchmarks one after another (all of them by default),
 * prints a table per benchmark and writes every number to bench/results/latest.json.
 * `npm run bench -- compare --url <SCIM base URL> --token <t>` runs the comparison with another
 * SCIM endpoint instead (bench/compare.ts).
 * Not part of `npm test`: the numbers depend on the machine and on what else runs on it.
 */

const BENCHMARKS: Record<string, () => Promise<BenchmarkResult>> = {
  'front-door': frontDoor,
  'front-door-kinds': frontDoorKinds,
  'flat-cost': flatCost,
  delivery,
  'end-to-end': () => endToEnd({ split: false }),
  'end-to-end-split': () => endToEnd({ split: true }),
  'change-cost': changeCost,
};

const RESULTS_FILE = fileURLToPath(new URL('./results/latest.json', import.meta.url));

const args = process.argv.slice(2);
if (args[0] === 'compare') {
  let options;
  try {
    options = parseCompareArgs(args.slice(1));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  BENCHMARKS.compare = () => compare(options);
}
const requested = args[0] === 'compare' ? ['compare'] : args;
const unknown = requested.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}
const names = requested.length > 0 ? requested : Object.keys(BENCHMARKS);

const redis = connectRedis();
const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
await redis.quit();
const machine = { node: process.version, redis: redisVersion, cpus: cpus().length, cpuModel: cpus()[0]?.model };
console.log(`scim-bridge benchmarks on ${machine.cpus} CPUs, Node ${machine.node}, Redis ${machine.redis}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const results: Array<BenchmarkResult & { loadAverage: { before: number[]; after: number[] }; startedAt: string; seconds: number }> = [];
let failed = false;
for (const name of names) {
  const run = BENCHMARKS[name];
  if (!run) continue;
  const before = loadavg();
  const startedAt = new Date().toISOString();
  const started = Date.now();
  try {
    const result = await run();
    const after = loadavg();
    const seconds = Math.round((Date.now() - started) / 1000);
    results.push({ ...result, startedAt, seconds, loadAverage: { before, after } });
    printTable(`${name}: ${result.target}`, result.rows);
    for (const note of result.notes) console.log(`  ${note}`);
    console.log(`  => ${result.headline.label}: ${result.headline.value} (${result.met === undefined ? 'a diagnosis, no target of its own' : result.met ? 'target met' : 'TARGET MISSED'}); took ${seconds} s; load average ${before[0]?.toFixed(2)} → ${after[0]?.toFixed(2)}`);
  } catch (error) {
    failed = true;
    console.error(`${name} failed:`, error);
  }
}

await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
await writeFile(RESULTS_FILE, `${JSON.stringify({ finishedAt: new Date().toISOString(), machine, results }, null, 2)}\n`);
console.log(`\nwrote ${RESULTS_FILE}`);
process.exitCode = failed ? 1 : 0;
