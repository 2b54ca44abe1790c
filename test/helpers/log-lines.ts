import { Writable } from 'node:stream';

/** A pino destination that parses every JSON log line into `lines`, for tests that read logs. */
export function jsonLogStream(lines: Array<Record<string, unknown>>): Writable {
  return new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
}
