import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ServerSpec } from '../servers/spec.js';

/**
 * Servers under test run in their own Node process (bench/servers/bench-server.ts), so the load
 * client and the server do not share one event loop: on a 2-core machine an in-process client
 * would dilute every ratio with its own cost. Each child reports its CPU time from /proc, which
 * is a steadier per-request cost on a noisy machine than throughput.
 *
 * Children run the code as it ships: compiled by tsc (`tsconfig.bench.json`, into
 * `bench/.build/`, once per benchmark process), as the container image runs `dist/`, not the
 * TypeScript sources through tsx, whose transform adds a little work to every call.
 */

const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVER_SCRIPT = fileURLToPath(new URL('../.build/bench/servers/bench-server.js', import.meta.url));
let compiled: Promise<void> | undefined;

/** Compiles the sources and the bench servers once per process. */
function compile(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  compiled ??= promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.bench.json'], { cwd: PACKAGE_ROOT }).then(
    () => {},
    (error: { stdout?: string }) => {
      throw new Error(`tsc -p tsconfig.bench.json failed:\n${error.stdout ?? String(error)}`);
    },
  );
  return compiled;
}
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
/** Kernel clock ticks per second for /proc/<pid>/stat (`getconf CLK_TCK`, 100 on Linux x86). */
const CLOCK_TICKS = 100;

export interface BenchChild {
  pid: number;
  /** Base URL of the HTTP server, when the child runs one. */
  url?: string;
  /** User + system CPU seconds the child has used so far. */
  cpuSeconds(): Promise<number>;
  /** Asks the child to close gracefully (SIGTERM); kills it when it does not exit in time. */
  stop(): Promise<void>;
}

export async function startChild(spec: ServerSpec): Promise<BenchChild> {
  await compile();
  const args: string[] = [];
  if (process.env.BENCH_CPU_PROF) args.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`);
  const child = spawn(process.execPath, [...args, SERVER_SCRIPT, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await waitForReady(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error('bench server did not start');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid,
    ...(ready.url ? { url: ready.url } : {}),
    cpuSeconds: () => processCpuSeconds(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

function waitForReady(child: ChildProcess): Promise<{ url?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('bench server did not report ready in time'));
    }, READY_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench server exited early with code ${code}`));
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      let message: { ready?: boolean; url?: string };
      try {
        message = JSON.parse(line) as { ready?: boolean; url?: string };
      } catch {
        return;
      }
      if (!message.ready) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve(message.url ? { url: message.url } : {});
    });
  });
}

/** utime + stime of a process (fields 14 and 15 of /proc/<pid>/stat). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis don't.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
