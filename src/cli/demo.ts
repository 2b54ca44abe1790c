import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startSampleLegacyApi } from '../../examples/sample-legacy-api/app.js';
import { DASHBOARD_PATH } from '../admin/plugin.js';
import { startBridge } from '../bridge.js';
import { loadConfig } from '../config/load.js';
import type { ConnectionConfig } from '../config/schema.js';
import { packageRoot } from '../lib/package-root.js';
import { deleteByPrefix } from '../lib/redis-keys.js';
import { findOrStartRedis, redact } from '../lib/redis-bootstrap.js';
import type { Io } from './main.js';
import { reportError, untilSignal } from './main.js';

/**
 * `npm start`: the bridge in front of the bundled sample legacy API, on loopback, with fresh
 * secrets. Its first lines are what an Entra admin pastes into the provisioning page: a Tenant
 * URL and Secret Token for the bearer mode, then the OAuth client credentials mode's four fields.
 */

const DEMO_CONFIG = join(packageRoot(), 'config', 'demo.yaml');

export async function runDemo(_args: string[], io: Io): Promise<number> {
  let redis;
  try {
    redis = await findOrStartRedis();
  } catch (err) {
    io.stderr(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const legacyToken = process.env.DEMO_LEGACY_TOKEN || secret();
  const legacy = await startSampleLegacyApi({ token: legacyToken });
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    DEMO_SCIM_SECRET: process.env.DEMO_SCIM_SECRET || secret(),
    DEMO_OAUTH_CLIENT_SECRET: process.env.DEMO_OAUTH_CLIENT_SECRET || secret(),
    DEMO_LEGACY_URL: legacy.url,
    DEMO_LEGACY_TOKEN: legacyToken,
    DEMO_ADMIN_PASSWORD: process.env.DEMO_ADMIN_PASSWORD || secret(),
  };
  try {
    const config = await loadConfig(DEMO_CONFIG, { env });
    // The sample legacy API starts empty every time, so the bridge's demo data must too.
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    await deleteByPrefix(client, `${config.redis.prefix}:`).finally(() => client.disconnect());
    // Logs go to stderr: the first stdout lines are what the admin pastes into Entra.
    const bridge = await startBridge(config, {
      logStream: process.stderr,
    });
    const [connection, oauthConnection] = config.connections as [ConnectionConfig, ConnectionConfig];
    const tenantUrl = `${bridge.url}${connection.basePath}`;
    // The config keeps only hashes of the secrets; print the ones generated above.
    const token = env.DEMO_SCIM_SECRET;
    const oauthClient = oauthConnection.auth.oauth2!.clients[0]!;
    const tokenEndpoint = `${bridge.url}${oauthConnection.tokenPath}`;
    io.stdout(
      [
        `Tenant URL: ${tenantUrl}`,
        `Secret Token: ${token}`,
        `OAuth Tenant URL: ${bridge.url}${oauthConnection.basePath}`,
        `Token Endpoint: ${tokenEndpoint}`,
        `Client ID: ${oauthClient.id}`,
        `Client Secret: ${env.DEMO_OAUTH_CLIENT_SECRET}`,
        `Dashboard: ${bridge.url}${DASHBOARD_PATH}`,
        `Admin: ${config.admin?.username ?? 'admin'} / ${env.DEMO_ADMIN_PASSWORD}`,
        '',
        'Try it (Entra-style probe, then create a user):',
        `  curl -s -H "Authorization: Bearer ${token}" '${tenantUrl}/Users?filter=userName+eq+%22nobody%40example.com%22'`,
        `  curl -s -X POST -H "Authorization: Bearer ${token}" -H 'Content-Type: application/scim+json' \\`,
        `    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"type":"work","primary":true,"value":"ada@example.com"}],"active":true}' \\`,
        `    '${tenantUrl}/Users'`,
        'OAuth mode (get a token as Entra does, then use it as the bearer):',
        `  curl -s -u '${oauthClient.id}:${env.DEMO_OAUTH_CLIENT_SECRET}' -d grant_type=client_credentials '${tokenEndpoint}'`,
        '',
        `Sample legacy API: ${legacy.url} (Bearer ${legacyToken})`,
        `  see what it holds: curl -s -H "Authorization: Bearer ${legacyToken}" ${legacy.url}/api/v1/accounts`,
        `Redis: ${redact(redis.url)}${redis.child ? ' (private, stopped on exit)' : ''}`,
        'Press Ctrl+C to stop.',
        '',
      ].join('\n'),
    );
    await untilSignal();
    await bridge.close();
    return 0;
  } catch (err) {
    return reportError(err, io);
  } finally {
    await legacy.close();
    await redis.stop();
  }
}

function secret(): string {
  return randomBytes(24).toString('base64url');
}
