import type { Redis } from 'ioredis';

/**
 * A resource is stored as one Redis string, its record: `field, value, field, value …` joined
 * by the unit separator (U+001F). One string costs about 300 B less per user than the Redis
 * hash it replaces: a hash whose values pass 64 bytes (the document does) becomes a hashtable
 * with one allocation per field.
 *
 * No value can hold the separator: documents are base64 or JSON, index entries JSON from Lua's
 * cjson, delivery state JSON, the rest numbers and timestamps, and JSON escapes every control
 * character. The write scripts check it anyway (`record_set` in `scripts.ts`), since a value
 * with a separator in it would shift every field after it.
 *
 * The write scripts are the only writers (`RECORD_LIB` in `scripts.ts`); this file reads. A
 * resource written by a release before records is a hash: it is read as one (`HGETALL`) until
 * its next write stores it as a record.
 * @see https://redis.io/docs/latest/develop/data-types/hashes/#performance
 */
export const RECORD_SEPARATOR = '\x1f';

/** A record's fields, as the scripts write them (see the key table in `keys.ts`). */
export type RecordFields = Record<string, string>;

export function parseRecord(raw: string): RecordFields {
  const parts = raw.split(RECORD_SEPARATOR);
  const fields: RecordFields = {};
  for (let i = 0; i + 1 < parts.length; i += 2) fields[parts[i]!] = parts[i + 1]!;
  return fields;
}

/** True for Redis's reply to a string command on a key of another type. */
export function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

/** One resource's fields, or null when it has none; reads an older release's hash too. */
export async function readRecord(redis: Redis, key: string): Promise<RecordFields | null> {
  try {
    const raw = await redis.get(key);
    return raw === null ? null : parseRecord(raw);
  } catch (error) {
    if (!isWrongType(error)) throw error;
    const fields = await redis.hgetall(key);
    return Object.keys(fields).length === 0 ? null : fields;
  }
}
