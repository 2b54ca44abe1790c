import { isDeepStrictEqual } from 'node:util';
import { comparableAdmin } from './load.js';
import { TLS_FILES_DIGEST, type LoadedTargetTls } from './target-tls.js';
import type { BridgeConfig, ConnectionConfig, DeliveryConfig } from './schema.js';

/**
 * What a new version of the config file may change in a running bridge. Pure: given the config
 * in effect and a valid new one, the config to run with from now on, and which changed settings
 * it took (`applied`) or left as they were because they need a restart (`restart`).
 *
 * Applied at once, per connection (matched by id): `target` of bridge connections (base URL,
 * auth, headers, timeouts, signing, TLS), new contents of the `target.tls` files of any connection, `auth` (bearer secrets, OAuth2 clients, scopes, token lifetime, signing key, JWT
 * settings; not adding or removing `auth.oauth2` nor its `tokenPath`, which are routes), the
 * inbound `rateLimit` (when the connection had one at start and still has one), `mapping` (the
 * file is loaded, and watched, from then on) and the delivery options of new jobs and attempts
 * (`attempts`, `backoffMs`, `maxBackoffMs`, `failedRetention`, `maxAgeMs`, `concurrency`,
 * `rateLimit`). Everything else (listen, redis, connections added or removed, base paths,
 * limits, admin, …) keeps its old value and is reported as needing a restart.
 */

export interface ConfigChange {
  /** The configuration to run with: the old one with the reloadable settings of the new one. */
  config: BridgeConfig;
  /** Changed settings now in effect, as config paths (`connections.acme.target`). */
  applied: string[];
  /** Changed settings ignored until a restart, as config paths (`listen`, `redis.url`). */
  restart: string[];
}

/** Delivery options read per job or attempt, or by the running worker (concurrency, rate limit). */
export const RELOADABLE_DELIVERY = ['attempts', 'backoffMs', 'maxBackoffMs', 'failedRetention', 'maxAgeMs', 'concurrency', 'rateLimit'] as const;

export function mergeReloadable(current: BridgeConfig, next: BridgeConfig): ConfigChange {
  const applied: string[] = [];
  const restart: string[] = [];
  const { connections: currentConnections, ...currentTop } = current;
  const { connections: nextConnections, ...nextTop } = next;
  for (const key of new Set([...Object.keys(currentTop), ...Object.keys(nextTop)])) {
    if (key === 'file') continue;
    const before = key === 'admin' ? comparableAdmin(current.admin) : (currentTop as Record<string, unknown>)[key];
    const after = key === 'admin' ? comparableAdmin(next.admin) : (nextTop as Record<string, unknown>)[key];
    if (isDeepStrictEqual(before, after)) continue;
    // Name the part that changed: `redis.url` rather than `redis`.
    if (isObject(before) && isObject(after)) restart.push(...changedKeys(before, after).map((inner) => `${key}.${inner}`));
    else restart.push(key);
  }

  const byId = new Map(nextConnections.map((c) => [c.id, c]));
  for (const connection of nextConnections) {
    if (!currentConnections.some((c) => c.id === connection.id)) restart.push(`connections.${connection.id} (added)`);
  }
  const connections = currentConnections.map((old) => {
    const candidate = byId.get(old.id);
    if (!candidate) {
      restart.push(`connections.${old.id} (removed)`);
      return old;
    }
    return mergeConnection(old, candidate, applied, restart);
  });
  return { config: Object.freeze({ ...current, connections }) as BridgeConfig, applied, restart };
}

function mergeConnection(old: ConnectionConfig, next: ConnectionConfig, applied: string[], restart: string[]): ConnectionConfig {
  const at = (key: string) => `connections.${old.id}.${key}`;
  const merged: Record<string, unknown> = { ...old };
  const take = (key: keyof ConnectionConfig) => {
    if (isDeepStrictEqual(old[key], next[key])) return;
    merged[key] = next[key];
    applied.push(at(key));
  };
  const keep = (key: string) => {
    const before = (old as Record<string, unknown>)[key];
    const after = (next as Record<string, unknown>)[key];
    if (!isDeepStrictEqual(before, after)) restart.push(at(key));
  };

  if (old.mode !== next.mode) {
    restart.push(at('mode'));
    return old;
  }
  // A proxy connection's target is its forwarding route, wired when the API starts; only new
  // contents of its target.tls files (same paths: rotated certificates) apply at once, as for a
  // bridge connection, whose whole target does.
  const onlyTlsFiles = onlyTlsFilesChanged(old.target, next.target);
  if (!isDeepStrictEqual(old.target, next.target)) {
    if (old.mode === 'bridge' || onlyTlsFiles) {
      merged.target = next.target;
      applied.push(at(onlyTlsFiles ? 'target.tls (files)' : 'target'));
    } else restart.push(at('target'));
  }
  // A token endpoint is a route: it cannot appear, go or move while the API listens.
  if (Boolean(old.auth.oauth2) !== Boolean(next.auth.oauth2) || old.tokenPath !== next.tokenPath) keep('auth');
  else take('auth');
  if (old.rateLimit !== undefined && next.rateLimit !== undefined) take('rateLimit');
  else keep('rateLimit');
  if (old.mode === 'bridge') {
    if (old.mappingPath !== next.mappingPath) {
      merged.mapping = next.mapping;
      merged.mappingPath = next.mappingPath;
      applied.push(at('mapping'));
    }
  } else keep('mapping');

  const delivery: Record<string, unknown> = { ...old.delivery };
  for (const key of RELOADABLE_DELIVERY) {
    if (isDeepStrictEqual(old.delivery[key], next.delivery[key])) continue;
    delivery[key] = next.delivery[key];
    applied.push(at(`delivery.${key}`));
  }
  for (const key of changedKeys(old.delivery, next.delivery)) {
    if (!(RELOADABLE_DELIVERY as readonly string[]).includes(key)) restart.push(at(`delivery.${key}`));
  }
  merged.delivery = delivery as DeliveryConfig;

  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    if (['id', 'mode', 'target', 'auth', 'rateLimit', 'mapping', 'mappingPath', 'delivery', 'tokenPath'].includes(key)) continue;
    keep(key);
  }
  return Object.freeze(merged) as unknown as ConnectionConfig;
}

/** The same target settings, but the TLS files' contents changed (rotated certificates). */
function onlyTlsFilesChanged(before: ConnectionConfig['target'], after: ConnectionConfig['target']): boolean {
  const a = before.tls as LoadedTargetTls | undefined;
  const b = after.tls as LoadedTargetTls | undefined;
  if (!a || !b || a[TLS_FILES_DIGEST] === b[TLS_FILES_DIGEST]) return false;
  const { tls: _a, ...restBefore } = before;
  const { tls: _b, ...restAfter } = after;
  return isDeepStrictEqual(restBefore, restAfter) && isDeepStrictEqual({ ...a }, { ...b, [TLS_FILES_DIGEST]: a[TLS_FILES_DIGEST] });
}

function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) => !isDeepStrictEqual(before[key], after[key]));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
