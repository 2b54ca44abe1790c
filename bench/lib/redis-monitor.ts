import { connect } from 'node:net';

/**
 * The Redis commands a piece of work sends, as Redis saw them (`MONITOR`), with their arguments
 * as bytes. ioredis has a `monitor()`, but it splits each line on `" "` and keeps MONITOR's
 * escapes (`\xNN`, `\n`, …), so a binary argument such as a deflated document comes back the
 * wrong size; this reads MONITOR over a plain socket and undoes the escapes.
 * Commands that scripts run (`[… lua]`) are left out: they are part of the script's call.
 * @see https://redis.io/docs/latest/commands/monitor/
 */

const SETTLE_MS = 100;

export async function captureCommands(redisUrl: string, work: () => Promise<void>): Promise<Buffer[][]> {
  const url = new URL(redisUrl);
  const socket = connect(Number(url.port || 6379), url.hostname || '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const commands: Buffer[][] = [];
  let pending = '';
  let monitoring!: () => void;
  let refused!: (error: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    monitoring = resolve;
    refused = reject;
  });
  let oks = url.password ? 2 : 1;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let end: number;
    while ((end = pending.indexOf('\r\n')) >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (line.startsWith('-')) {
        refused(new Error(`MONITOR: ${line}`));
        socket.destroy();
      } else if (line === '+OK') {
        // AUTH's OK first when there is a password, then MONITOR's.
        if (--oks === 0) monitoring();
      } else if (line.startsWith('+') && !/^\+\S+ \[\d+ lua\]/.test(line)) {
        commands.push(parseMonitorLine(line));
      }
    }
  });
  if (url.password) socket.write(`AUTH ${url.username ? `${decodeURIComponent(url.username)} ` : ''}${decodeURIComponent(url.password)}\r\n`);
  socket.write('MONITOR\r\n');
  try {
    await started;
    await work();
    // Redis logs a command to MONITOR before it answers it; this gives the socket time to read them.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  } finally {
    if (!socket.destroyed) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.end('QUIT\r\n');
      await closed;
    }
  }
  return commands;
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, '"': 34, '\\': 92 };

/** `+<time> [<db> <client>] "name" "arg" …` with sdscatrepr escapes, one pass over the line. */
export function parseMonitorLine(line: string): Buffer[] {
  const args: Buffer[] = [];
  let i = line.indexOf('] "');
  if (i < 0) return args;
  i += 2;
  while (i < line.length && line[i] === '"') {
    const bytes: number[] = [];
    i++;
    while (i < line.length && line[i] !== '"') {
      if (line[i] === '\\' && i + 1 < line.length) {
        const next = line[i + 1]!;
        if (next === 'x') {
          bytes.push(Number.parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
        } else {
          bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
          i += 2;
        }
      } else {
        bytes.push(line.charCodeAt(i));
        i++;
      }
    }
    args.push(Buffer.from(bytes));
    i += 2; // the closing quote and the space before the next argument
  }
  return args;
}
