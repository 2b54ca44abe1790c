import { hashPassword, sha256Hex } from '../auth/secret-hash.js';
import type { Io } from './main.js';

/**
 * `scim-bridge hash-password [--token]`: reads a secret from stdin (first line) and prints what
 * goes into `admin.passwordHash` (scrypt) or, with `--token`, into `admin.tokenHashes` (SHA-256).
 * Reading stdin keeps the secret out of the shell history and the process list.
 */
export async function runHashPassword(args: string[], io: Io, stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const token = args.includes('--token');
  const unknown = args.filter((arg) => arg !== '--token');
  if (unknown.length > 0) {
    io.stderr(`scim-bridge hash-password: unknown argument ${unknown[0]}\nUsage: scim-bridge hash-password [--token] < secret-file\n`);
    return 2;
  }
  const secret = (await readFirstLine(stdin)).trim();
  if (secret === '') {
    io.stderr('scim-bridge hash-password: no secret on stdin (e.g. printf %s "$ADMIN_PASSWORD" | scim-bridge hash-password)\n');
    return 2;
  }
  io.stdout(`${token ? sha256Hex(secret) : hashPassword(secret)}\n`);
  return 0;
}

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const newline = text.indexOf('\n');
    if (newline !== -1) return text.slice(0, newline);
    if (text.length > 4096) break;
  }
  return text;
}
