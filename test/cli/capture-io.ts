import type { Io } from '../../src/cli/main.js';

/** An `Io` that records what a command printed, for in-process CLI tests. */
export interface CapturedIo {
  io: Io;
  out: { stdout: string; stderr: string };
}

export function captureIo(): CapturedIo {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (text) => void (out.stdout += text),
      stderr: (text) => void (out.stderr += text),
    },
  };
}
