import type { Redis } from 'ioredis';
import { BridgeError } from '../lib/errors.js';
import { generateId, generateSecret, hashSecret, type SecretHash } from './secret-hash.js';

/**
 * Managed secrets of one connection, kept in Redis as hashes only: bearer tokens (Entra's
 * "Secret Token") and OAuth client secrets (Entra's "Client Secret"). `scim-bridge secrets`
 * writes here, the API reads here through a short-lived cache (`secret-cache.ts`). A new secret
 * is returned exactly once, by `create` or `rotate`; afterwards only its hash exists.
 *
 * | key                         | type | holds                                           |
 * |-----------------------------|------|-------------------------------------------------|
 * | `<prefix>:auth:{<conn>}:secrets` | hash | secret id → SecretRecord JSON (hash, expiry…) |
 * | `<prefix>:auth:{<conn>}:used`    | hash | secret id → last time it was used (ISO)       |
 */

export type SecretKind = 'bearer' | 'client';

export interface SecretRecord {
  id: string;
  kind: SecretKind;
  /** For `client` secrets: the OAuth client id they authenticate (several during a rotation). */
  clientId?: string;
  hash: SecretHash;
  createdAt: string;
  /** No expiry when absent. */
  expiresAt?: string;
}

export interface ListedSecret extends Omit<SecretRecord, 'hash'> {
  /** Last successful use, written at most once a minute per secret (so it is approximate). */
  lastUsedAt?: string;
}

export interface IssuedSecret {
  record: SecretRecord;
  /** The secret itself: shown once, never stored. */
  secret: string;
}

export interface RotateOptions {
  /** Bearer: only phase out this secret (default: every bearer secret). */
  id?: string;
  /** Client: the client whose secrets are rotated (default: the only client there is). */
  clientId?: string;
  /** How long the old secrets stay valid. */
  graceMs: number;
  expiresAt?: Date;
}

export interface SecretStore {
  create(kind: SecretKind, options?: { expiresAt?: Date; clientId?: string }): Promise<IssuedSecret>;
  /** Issues a new secret and lets the old ones expire after the grace period. */
  rotate(kind: SecretKind, options: RotateOptions): Promise<{ issued: IssuedSecret; phasedOut: SecretRecord[] }>;
  /** Deletes a secret by id, or every secret of a client by client id. Returns what was removed. */
  revoke(idOrClientId: string): Promise<SecretRecord[]>;
  list(): Promise<ListedSecret[]>;
  /** Every record, as the API's cache loads them. */
  records(): Promise<SecretRecord[]>;
  markUsed(id: string, at: Date): Promise<void>;
}

/** A managed bearer token: `sbt_<id>_<secret>`, so the API finds its record without a scan. */
const BEARER_TOKEN = /^sbt_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

/** The record id a managed bearer token names, or undefined when it is not one. */
export function bearerTokenId(token: string): string | undefined {
  return BEARER_TOKEN.exec(token)?.[1];
}

/** The connection's id is the hash tag, so in Redis Cluster one MULTI can touch both hashes. */
export function authKeys(redisPrefix: string, connectionId: string) {
  const base = `${redisPrefix}:auth:{${connectionId}}`;
  return { secrets: `${base}:secrets`, used: `${base}:used`, signingKey: `${base}:signing-key` };
}

export function createSecretStore(redis: Redis, redisPrefix: string, connectionId: string, now: () => Date = () => new Date()): SecretStore {
  const keys = authKeys(redisPrefix, connectionId);

  async function records(): Promise<SecretRecord[]> {
    const all = await redis.hgetall(keys.secrets);
    return Object.values(all)
      .map((json) => JSON.parse(json) as SecretRecord)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  function newRecord(kind: SecretKind, options: { expiresAt?: Date; clientId?: string }): IssuedSecret {
    const id = generateId();
    const secret = kind === 'bearer' ? `sbt_${id}_${generateSecret()}` : generateSecret();
    const record: SecretRecord = { id, kind, hash: hashSecret(secret), createdAt: now().toISOString() };
    if (kind === 'client') record.clientId = options.clientId ?? generateId(8);
    if (options.expiresAt) record.expiresAt = options.expiresAt.toISOString();
    return { record, secret };
  }

  /** Writes records and drops the ones that expired (they can never authenticate again). */
  async function save(changed: SecretRecord[], existing: SecretRecord[]): Promise<void> {
    const at = now().getTime();
    const expired = existing.filter((r) => r.expiresAt !== undefined && Date.parse(r.expiresAt) <= at).map((r) => r.id);
    const tx = redis.multi().hset(keys.secrets, Object.fromEntries(changed.map((r) => [r.id, JSON.stringify(r)])));
    if (expired.length > 0) tx.hdel(keys.secrets, ...expired).hdel(keys.used, ...expired);
    await tx.exec();
  }

  return {
    async create(kind, options = {}) {
      const issued = newRecord(kind, options);
      await save([issued.record], await records());
      return issued;
    },

    async rotate(kind, options) {
      const existing = await records();
      const at = now().getTime();
      const active = existing.filter((r) => r.kind === kind && (r.expiresAt === undefined || Date.parse(r.expiresAt) > at));
      let old: SecretRecord[];
      let clientId: string | undefined;
      if (kind === 'client') {
        const clientIds = [...new Set(active.map((r) => r.clientId!))];
        clientId = options.clientId ?? (clientIds.length === 1 ? clientIds[0] : undefined);
        if (clientId === undefined) {
          throw new BridgeError(
            'GW_AUTH_SECRET_NOT_FOUND',
            clientIds.length === 0 ? 'there is no OAuth client to rotate: use "secrets create --kind client"' : 'several OAuth clients exist: name one with --client-id',
          );
        }
        old = active.filter((r) => r.clientId === clientId);
        if (old.length === 0) throw new BridgeError('GW_AUTH_SECRET_NOT_FOUND', `no active secret of client ${clientId}`);
      } else {
        old = options.id ? active.filter((r) => r.id === options.id) : active;
        if (options.id && old.length === 0) throw new BridgeError('GW_AUTH_SECRET_NOT_FOUND', `no active bearer secret ${options.id}`);
      }
      const graceEnd = at + options.graceMs;
      const phasedOut = old.map((r) => ({
        ...r,
        expiresAt: new Date(Math.min(graceEnd, r.expiresAt ? Date.parse(r.expiresAt) : Number.POSITIVE_INFINITY)).toISOString(),
      }));
      const issued = newRecord(kind, { expiresAt: options.expiresAt, clientId });
      await save([...phasedOut, issued.record], existing);
      return { issued, phasedOut };
    },

    async revoke(idOrClientId) {
      const removed = (await records()).filter((r) => r.id === idOrClientId || r.clientId === idOrClientId);
      if (removed.length === 0) throw new BridgeError('GW_AUTH_SECRET_NOT_FOUND', `no secret or client with id ${idOrClientId}`);
      const ids = removed.map((r) => r.id);
      await redis.multi().hdel(keys.secrets, ...ids).hdel(keys.used, ...ids).exec();
      return removed;
    },

    async list() {
      const [all, used] = await Promise.all([records(), redis.hgetall(keys.used)]);
      return all.map(({ hash: _hash, ...rest }) => (used[rest.id] ? { ...rest, lastUsedAt: used[rest.id] } : rest));
    },

    records,

    async markUsed(id, at) {
      await redis.hset(keys.used, id, at.toISOString());
    },
  };
}
