import type { SecretRecord, SecretStore } from './secret-store.js';

/**
 * The API's view of a connection's managed secrets: a snapshot of the Redis records, reloaded
 * when older than `ttlMs`, so a secret created, rotated or revoked with `scim-bridge secrets`
 * takes effect within `ttlMs` without a restart, and a request costs a map lookup (Redis is read
 * at most once per `ttlMs` per process, by one request while the others wait for it).
 *
 * When Redis does not answer, the last snapshot stays in use: nobody can change secrets then
 * either, because the CLI writes to the same Redis. With no snapshot at all the error goes up
 * (the API answers 503, not a misleading 401).
 */

export interface SecretCache {
  /** The live record of a managed bearer token id. */
  bearer(id: string): Promise<SecretRecord | undefined>;
  /** The live secrets of an OAuth client. */
  client(clientId: string): Promise<SecretRecord[]>;
  /** Remembers that a secret worked; written to Redis at most once per `usedWriteMs`. */
  markUsed(id: string): void;
}

export interface SecretCacheOptions {
  /** Longest time a change made by the CLI can go unseen. */
  ttlMs: number;
  /** How often the last-used time of one secret is written back. */
  usedWriteMs?: number;
  now?: () => number;
}

interface Snapshot {
  loadedAt: number;
  bearer: Map<string, SecretRecord>;
  clients: Map<string, SecretRecord[]>;
}

export function createSecretCache(store: SecretStore, options: SecretCacheOptions): SecretCache {
  const now = options.now ?? Date.now;
  const usedWriteMs = options.usedWriteMs ?? 60_000;
  let snapshot: Snapshot | undefined;
  let loading: Promise<Snapshot> | undefined;
  const lastWritten = new Map<string, number>();

  async function load(): Promise<Snapshot> {
    try {
      const next: Snapshot = { loadedAt: now(), bearer: new Map(), clients: new Map() };
      for (const record of await store.records()) {
        if (record.kind === 'bearer') next.bearer.set(record.id, record);
        else next.clients.set(record.clientId!, [...(next.clients.get(record.clientId!) ?? []), record]);
      }
      snapshot = next;
      return next;
    } catch (error) {
      if (!snapshot) throw error;
      return snapshot;
    }
  }

  async function current(): Promise<Snapshot> {
    if (snapshot && now() - snapshot.loadedAt < options.ttlMs) return snapshot;
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  const live = (record: SecretRecord | undefined) =>
    record !== undefined && (record.expiresAt === undefined || Date.parse(record.expiresAt) > now());

  return {
    async bearer(id) {
      const record = (await current()).bearer.get(id);
      return live(record) ? record : undefined;
    },
    async client(clientId) {
      return ((await current()).clients.get(clientId) ?? []).filter(live);
    },
    markUsed(id) {
      const at = now();
      if (at - (lastWritten.get(id) ?? Number.NEGATIVE_INFINITY) < usedWriteMs) return;
      lastWritten.set(id, at);
      // Best effort: a lost last-used time is not worth failing a request for.
      store.markUsed(id, new Date(at)).catch(() => undefined);
    },
  };
}
