import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/load.js';
import { mergeReloadable } from '../../src/config/reload.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { TLS_FILES_DIGEST, type LoadedTargetTls } from '../../src/config/target-tls.js';

/** What a reloaded config may change while the bridge runs, and what waits for a restart. */

const base = {
  listen: { host: '127.0.0.1', port: 8080 },
  redis: { url: 'redis://127.0.0.1:6379', prefix: 'sb' },
  admin: { username: 'ops', password: 'a-long-admin-password' },
  connections: [
    {
      id: 'acme',
      auth: { bearer: ['secret-one-0123456789'] },
      target: { baseUrl: 'http://127.0.0.1:4000' },
      mapping: 'acme.yaml',
      rateLimit: { max: 10 },
      delivery: { attempts: 3 },
    },
  ],
};
type Input = typeof base;
const with_ = (change: (input: Input) => void) => {
  const input = structuredClone(base);
  change(input);
  return configFromObject(input, '/etc/bridge');
};

describe('mergeReloadable', () => {
  it('applies target, auth, inbound rate limit, mapping and per-job delivery options of a connection', () => {
    const next = with_((c) => {
      const acme = c.connections[0]!;
      acme.target.baseUrl = 'http://127.0.0.1:5000';
      acme.auth.bearer = ['secret-two-0123456789'];
      acme.rateLimit.max = 20;
      acme.mapping = 'acme-v2.yaml';
      acme.delivery = { attempts: 5, concurrency: 2 } as never;
    });
    const change = mergeReloadable(with_(() => {}), next);
    expect(change.applied.sort()).toEqual([
      'connections.acme.auth',
      'connections.acme.delivery.attempts',
      'connections.acme.delivery.concurrency',
      'connections.acme.mapping',
      'connections.acme.rateLimit',
      'connections.acme.target',
    ]);
    expect(change.restart).toEqual([]);
    const acme = change.config.connections[0]!;
    expect(acme.target.baseUrl).toBe('http://127.0.0.1:5000');
    expect(acme.mappingPath).toBe('/etc/bridge/acme-v2.yaml');
    expect(acme.delivery).toMatchObject({ attempts: 5, concurrency: 2 });
  });

  it('keeps listen, redis, connections added or removed and other settings, naming them as needing a restart', () => {
    const next = with_((c) => {
      c.listen.port = 9090;
      c.redis.url = 'redis://10.0.0.2:6379';
      c.redis.prefix = 'other';
      c.connections[0]!.delivery = { attempts: 3, lockDurationMs: 30_000 } as never;
      c.connections.push({ ...structuredClone(c.connections[0]!), id: 'beta', mapping: 'beta.yaml' });
    });
    const current = with_(() => {});
    const change = mergeReloadable(current, next);
    expect(change.restart.sort()).toEqual(['connections.acme.delivery.lockDurationMs', 'connections.beta (added)', 'listen.port', 'redis.prefix', 'redis.url']);
    expect(change.applied).toEqual([]);
    expect(change.config.listen.port).toBe(8080);
    expect(change.config.redis).toEqual(current.redis);
    expect(change.config.connections.map((c) => c.id)).toEqual(['acme']);
  });

  it('sees no change in a reload of the same file (the salted admin password hash included)', () => {
    const change = mergeReloadable(with_(() => {}), with_(() => {}));
    expect(change).toMatchObject({ applied: [], restart: [] });
    const password = mergeReloadable(with_(() => {}), with_((c) => (c.admin.password = 'another-long-password')));
    expect(password.restart).toEqual(['admin.password']);
  });

  it('keeps auth when a token endpoint would appear, and an inbound rate limit that would appear or go', () => {
    const next = with_((c) => {
      (c.connections[0]!.auth as Record<string, unknown>).oauth2 = { clients: [] };
      delete (c.connections[0] as { rateLimit?: unknown }).rateLimit;
    });
    const change = mergeReloadable(with_(() => {}), next);
    expect(change.restart.sort()).toEqual(['connections.acme.auth', 'connections.acme.rateLimit']);
    expect(change.config.connections[0]!.auth.oauth2).toBeUndefined();
    expect(change.config.connections[0]!.rateLimit).toEqual({ max: 10, windowMs: 1_000 });
  });

  it('applies new contents of target.tls files to bridge and proxy connections; other proxy target changes wait', () => {
    const tls = { cert: 'client.pem', key: 'client.key' };
    /** A loaded config whose TLS files held `digest` (loadConfig sets it from the files). */
    const loaded = (digest: string, proxyUrl = 'https://up.example.com/scim') => {
      const config = configFromObject(
        {
          ...base,
          connections: [
            { ...base.connections[0]!, target: { baseUrl: 'https://app.example.com', tls } },
            { id: 'px', mode: 'proxy', auth: { bearer: ['secret-px-0123456789'] }, target: { baseUrl: proxyUrl, tls } },
          ],
        },
        '/etc/bridge',
      );
      const connections = config.connections.map((c) => ({ ...c, target: { ...c.target, tls: { ...c.target.tls!, [TLS_FILES_DIGEST]: digest } } }));
      return { ...config, connections } as BridgeConfig;
    };
    const rotated = mergeReloadable(loaded('a'), loaded('b'));
    expect(rotated.applied).toEqual(['connections.acme.target.tls (files)', 'connections.px.target.tls (files)']);
    expect(rotated.restart).toEqual([]);
    expect((rotated.config.connections[1]!.target.tls as LoadedTargetTls)[TLS_FILES_DIGEST]).toBe('b');

    const moved = mergeReloadable(loaded('a'), loaded('b', 'https://other.example.com/scim'));
    expect(moved.applied).toEqual(['connections.acme.target.tls (files)']);
    expect(moved.restart).toEqual(['connections.px.target']);
    expect(moved.config.connections[1]!.target.baseUrl).toBe('https://up.example.com/scim');

    expect(mergeReloadable(loaded('a'), loaded('a'))).toMatchObject({ applied: [], restart: [] });
  });
});
