import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** A fake API started as its own process with `node --import tsx <script>`, as a user would. */
export interface FakeApiProcess {
  url: string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `script` and waits until it prints `listening on <url>`; rejects if it exits first. */
export async function startFakeApiProcess(script: string, env: Record<string, string>): Promise<FakeApiProcess> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.stderr.resume();
    void exited.then((code) => reject(new Error(`${script} exited with ${code} before printing its URL:\n${output}`)));
  });
  return {
    url,
    stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs `script` with `env` (replacing the parent's) and resolves with its exit code. */
export async function runFakeApiProcess(script: string, env: NodeJS.ProcessEnv): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env, stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', resolve));
}
