import { parseArgs } from 'node:util';
import { createSecretStore, type IssuedSecret, type ListedSecret, type SecretKind } from '../auth/secret-store.js';
import { loadConfig } from '../config/load.js';
import type { BridgeConfig, ConnectionConfig } from '../config/schema.js';
import { parseDuration } from '../lib/duration.js';
import { createRedisClient } from '../lib/redis-connection.js';
import type { Io } from './main.js';
import { reportError } from './main.js';

/**
 * `scim-bridge secrets create|rotate|revoke|list <connection> --config FILE`: manages the
 * connection's secrets in the Redis of the config, with no server running. A new secret is
 * printed once and only its hash is stored. A running API sees the change within
 * `auth.managedSecretsCacheMs` (5 s by default).
 */

export const SECRETS_USAGE = `Usage:
  scim-bridge secrets create <connection> [--kind bearer|client] [--expires 365d] [--config FILE]
  scim-bridge secrets rotate <connection> [--kind bearer|client] [--id ID | --client-id ID] [--grace 24h] [--expires 365d] [--config FILE]
  scim-bridge secrets revoke <connection> <secret-id|client-id> [--config FILE]
  scim-bridge secrets list   <connection> [--json] [--config FILE]
`;

const DEFAULT_GRACE = '24h';

export async function runSecrets(args: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        kind: { type: 'string', default: 'bearer' },
        id: { type: 'string' },
        'client-id': { type: 'string' },
        grace: { type: 'string', default: DEFAULT_GRACE },
        expires: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const { values, positionals } = parsed;
  const [action, connectionId, target] = positionals;
  if (!action || !['create', 'rotate', 'revoke', 'list'].includes(action)) return usage(io, 'name an action: create, rotate, revoke or list');
  if (!connectionId) return usage(io, 'name the connection');
  if (action === 'revoke' && !target) return usage(io, 'name the secret id or client id to revoke (see "secrets list")');
  if (values.kind !== 'bearer' && values.kind !== 'client') return usage(io, '--kind is bearer or client');
  const kind: SecretKind = values.kind;
  const graceMs = parseDuration(values.grace);
  if (graceMs === undefined) return usage(io, `--grace "${values.grace}" is not a duration like 24h, 30m or 7d`);
  const expiresMs = values.expires === undefined ? undefined : parseDuration(values.expires);
  if (values.expires !== undefined && expiresMs === undefined) return usage(io, `--expires "${values.expires}" is not a duration like 365d`);
  const expiresAt = expiresMs === undefined ? undefined : new Date(Date.now() + expiresMs);

  let config: BridgeConfig;
  try {
    config = await loadConfig(values.config ?? process.env.SCIM_BRIDGE_CONFIG ?? 'config/default.yaml');
  } catch (err) {
    return reportError(err, io);
  }
  const connection = config.connections.find((c) => c.id === connectionId);
  if (!connection) {
    return usage(io, `no connection "${connectionId}" in ${config.file} (there is ${config.connections.map((c) => c.id).join(', ')})`);
  }

  const redis = createRedisClient(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const store = createSecretStore(redis, config.redis.prefix, connection.id);
    switch (action) {
      case 'create':
        printIssued(io, config, connection, await store.create(kind, { ...(expiresAt ? { expiresAt } : {}) }));
        break;
      case 'rotate': {
        const { issued, phasedOut } = await store.rotate(kind, {
          graceMs,
          ...(values.id ? { id: values.id } : {}),
          ...(values['client-id'] ? { clientId: values['client-id'] } : {}),
          ...(expiresAt ? { expiresAt } : {}),
        });
        printIssued(io, config, connection, issued);
        for (const old of phasedOut) io.stdout(`old secret ${old.id} stays valid until ${old.expiresAt}\n`);
        if (phasedOut.length === 0) io.stdout('(there was no active secret of this kind to phase out)\n');
        break;
      }
      case 'revoke':
        for (const removed of await store.revoke(target!)) io.stdout(`revoked ${removed.kind} secret ${removed.id}${removed.clientId ? ` of client ${removed.clientId}` : ''}\n`);
        io.stdout(`a running API stops accepting it within ${connection.auth.managedSecretsCacheMs} ms\n`);
        break;
      case 'list': {
        const listed = await store.list();
        if (values.json) io.stdout(`${JSON.stringify(listed, null, 2)}\n`);
        else printList(io, listed);
        break;
      }
    }
    return 0;
  } catch (err) {
    if (isConnectionError(err)) {
      io.stderr(`scim-bridge secrets: Redis at ${config.redis.url.replace(/\/\/[^@/]*@/, '//***@')} does not answer\n`);
      return 2;
    }
    return reportError(err, io);
  } finally {
    redis.disconnect();
  }
}

function printIssued(io: Io, config: BridgeConfig, connection: ConnectionConfig, { record, secret }: IssuedSecret): void {
  const base = config.publicUrl?.replace(/\/+$/, '') ?? `http://${config.listen.host}:${config.listen.port}`;
  const lines =
    record.kind === 'bearer'
      ? [`Tenant URL: ${base}${connection.basePath}`, `Secret Token: ${secret}`]
      : [
          `OAuth Tenant URL: ${base}${connection.basePath}`,
          connection.tokenPath ? `Token Endpoint: ${base}${connection.tokenPath}` : 'Token Endpoint: (none: add auth.oauth2 to the connection to serve one)',
          `Client ID: ${record.clientId}`,
          `Client Secret: ${secret}`,
        ];
  io.stdout(`${lines.join('\n')}\n`);
  io.stdout(`secret id ${record.id}${record.expiresAt ? `, expires ${record.expiresAt}` : ', no expiry'}; it is shown only this once\n`);
}

function printList(io: Io, listed: ListedSecret[]): void {
  if (listed.length === 0) {
    io.stdout('no managed secrets\n');
    return;
  }
  const now = Date.now();
  const rows = listed.map((s) => [
    s.id,
    s.kind,
    s.clientId ?? '-',
    s.createdAt,
    s.expiresAt ? `${s.expiresAt}${Date.parse(s.expiresAt) <= now ? ' (expired)' : ''}` : 'never',
    s.lastUsedAt ?? 'never',
  ]);
  const header = ['ID', 'KIND', 'CLIENT ID', 'CREATED', 'EXPIRES', 'LAST USED (±1 min)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) io.stdout(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}

function usage(io: Io, message: string): number {
  io.stderr(`scim-bridge secrets: ${message}\n\n${SECRETS_USAGE}`);
  return 2;
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || /Connection is closed|Stream isn't writeable/.test(String((err as Error)?.message));
}
