import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * `scim-bridge <args>` as a real child process (`node --import tsx src/cli/main.ts`), with its
 * stdout split into lines so tests can wait (bounded) for what it prints.
 */

export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  child: ChildProcess;
  /** Every stdout line so far, in order. */
  lines: string[];
  stderr(): string;
  /** Resolves with the first stdout line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves when the process has exited and its output is fully read. */
  exited: Promise<ExitResult>;
  /** Waits (bounded) for the process to exit by itself. */
  exit(timeoutMs?: number): Promise<ExitResult>;
  /** Sends `signal` and waits (bounded) for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitResult>;
  /** SIGKILL if still running; for afterAll. */
  kill(): Promise<void>;
}

const running = new Set<CliProcess>();

export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: PACKAGE_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  const listeners = new Set<(line: string) => void>();
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const reader = createInterface({ input: child.stdout! });
  reader.on('line', (line) => {
    lines.push(line);
    for (const listener of listeners) listener(line);
  });
  const readerClosed = new Promise<void>((resolve) => reader.once('close', resolve));
  const exitedRaw = new Promise<ExitResult>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const exited = Promise.all([exitedRaw, readerClosed]).then(([result]) => result);

  const proc: CliProcess = {
    child,
    lines,
    stderr: () => stderr,
    waitForLine(pattern, timeoutMs = 30_000) {
      const found = lines.map((line) => pattern.exec(line)).find((m) => m !== null);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          listeners.delete(onLine);
        };
        const onLine = (line: string) => {
          const match = pattern.exec(line);
          if (!match) return;
          done();
          resolve(match);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no stdout line matched ${pattern} within ${timeoutMs} ms\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
        }, timeoutMs);
        listeners.add(onLine);
        void exited.then((result) => {
          if (!listeners.has(onLine)) return;
          done();
          reject(new Error(`exited (${JSON.stringify(result)}) before printing ${pattern}\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
        });
      });
    },
    exited,
    async exit(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`did not exit within ${timeoutMs} ms\nstderr:\n${stderr}`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return proc.exit(timeoutMs);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      running.delete(proc);
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** Kills every child spawned by this file that is still running. */
export async function killAllCli(): Promise<void> {
  await Promise.all([...running].map((proc) => proc.kill()));
}
