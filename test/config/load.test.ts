import { sha256Hex } from '../../src/auth/secret-hash.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/auth/secret-hash.js';
import { ConfigError, loadConfig, loadConfigSource } from '../../src/config/load.js';

const FILE = '/etc/scim-bridge/bridge.yaml';

const base = (over = '') => `
listen: { port: 9000 }
connections:
  - id: acme
    auth:
      bearer: ["\${env:ACME_SECRET}", "\${env:ACME_SECRET_NEXT}"]
    target:
      baseUrl: http://127.0.0.1:1234
      auth: { type: bearer, token: "\${env:ACME_TARGET_TOKEN}" }
    mapping: ../mappings/app.yaml
${over}`;

const env = { ACME_SECRET: 's1', ACME_SECRET_NEXT: 'next-secret', ACME_TARGET_TOKEN: 't1' };

function issuesOf(fn: () => unknown): { code: string; lines: string[] } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    return { code: e.code, lines: e.message.split('\n') };
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('resolves placeholders, defaults and paths, and freezes the result', () => {
    const config = loadConfigSource(base(), FILE, { env });
    const c = config.connections[0]!;
    // Only hashes of the secrets are kept.
    expect(c.auth.bearer).toEqual([hashSecret('s1'), hashSecret('next-secret')]);
    expect(JSON.stringify(config)).not.toContain('next-secret');
    expect(c.basePath).toBe('/acme/scim/v2');
    expect(c.mappingPath).toBe('/etc/mappings/app.yaml');
    expect(c.target.timeoutMs).toBe(10_000);
    expect(c.delivery.attempts).toBeGreaterThan(1);
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(Object.isFrozen(c.auth.bearer)).toBe(true);
  });

  it('reads ${file:…} secrets relative to the config file, without the trailing newline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'secret.txt'), 'from-file\n');
    writeFileSync(join(dir, 'bridge.yaml'), base().replace('${env:ACME_SECRET}', '${file:secret.txt}'));
    const config = await loadConfig(join(dir, 'bridge.yaml'), { env });
    expect(config.connections[0]!.auth.bearer[0]).toBe(hashSecret('from-file'));
  });

  it('names file, line, column and path of an unset variable and says how to fix it', () => {
    const { code, lines } = issuesOf(() => loadConfigSource(base(), FILE, { env: { ACME_SECRET: 's', ACME_SECRET_NEXT: 'n' } }));
    expect(code).toBe('GW_CONFIG_PLACEHOLDER');
    expect(lines).toEqual([
      `${FILE}:9:36 connections.0.target.auth.token: environment variable ACME_TARGET_TOKEN is not set (export it, or write \${env:ACME_TARGET_TOKEN:-default})`,
    ]);
  });

  it('rejects secrets written literally', () => {
    const { code, lines } = issuesOf(() => loadConfigSource(base().replace('"${env:ACME_TARGET_TOKEN}"', 'hunter2'), FILE, { env }));
    expect(code).toBe('GW_CONFIG_LITERAL_SECRET');
    expect(lines[0]).toMatch(/^\/etc\/scim-bridge\/bridge\.yaml:9:36 connections\.0\.target\.auth\.token: secrets must not be written/);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it.each([
    ['a default', '"${env:ACME_TARGET_TOKEN:-hunter2}"'],
    ['an unused default', '"${env:ACME_SECRET:-hunter2}"'],
    ['text around the placeholder', '"hunter2${env:ACME_SECRET}"'],
  ])('rejects a secret placeholder with %s as a literal secret', (_name, value) => {
    const { code, lines } = issuesOf(() => loadConfigSource(base().replace('"${env:ACME_TARGET_TOKEN}"', value), FILE, { env }));
    expect(code).toBe('GW_CONFIG_LITERAL_SECRET');
    expect(lines[0]).toMatch(/connections\.0\.target\.auth\.token: secrets must not be written .* alone, without a default/);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('takes number and boolean fields from placeholders, and leaves number-like secrets strings', () => {
    const src = base('limits: { bodyBytes: "${env:BODY}", nestingDepth: "${env:DEPTH:-32}" }').replace('port: 9000', 'port: "${env:PORT}"');
    const config = loadConfigSource(src, FILE, { env: { ...env, ACME_SECRET: '12345', BODY: '2048', PORT: '9100' } });
    expect(config.listen.port).toBe(9100);
    expect(config.limits.bodyBytes).toBe(2048);
    expect(config.limits.nestingDepth).toBe(32);
    expect(config.connections[0]!.auth.bearer[0]).toBe(hashSecret('12345'));
    const bad = issuesOf(() => loadConfigSource(base('limits: { bodyBytes: "${env:BODY}" }'), FILE, { env: { ...env, BODY: 'lots' } }));
    expect(bad.lines.join('\n')).toMatch(/limits\.bodyBytes: .*expected number/);
  });

  it('reports unknown keys, wrong types and missing keys with their location', () => {
    const src = base().replace('mapping:', 'mappin:').replace('port: 9000', 'port: high');
    const { code, lines } = issuesOf(() => loadConfigSource(src, FILE, { env }));
    expect(code).toBe('GW_CONFIG_INVALID');
    expect(lines).toContain(`${FILE}:2:17 listen.port: Invalid input: expected number, received NaN`);
    expect(lines.some((l) => /:4:5 connections\.0: unknown key "mappin"/.test(l))).toBe(true);
    expect(lines.some((l) => /connections\.0\.mapping: is required/.test(l))).toBe(true);
  });

  it('rejects duplicate connection ids and bad ids', () => {
    const twice = base() + base().split('connections:\n')[1];
    expect(issuesOf(() => loadConfigSource(twice, FILE, { env })).lines.join('\n')).toMatch(/duplicate connection id "acme"/);
    expect(issuesOf(() => loadConfigSource(base().replace('id: acme', 'id: "Acme Corp"'), FILE, { env })).lines.join('\n')).toMatch(
      /connections\.0\.id: use lower-case letters/,
    );
  });

  it('reports YAML syntax errors with their position', () => {
    const { code, lines } = issuesOf(() => loadConfigSource('listen: { port: 1\nconnections: [', FILE, { env }));
    expect(code).toBe('GW_CONFIG_INVALID');
    expect(lines[0]).toMatch(/^\/etc\/scim-bridge\/bridge\.yaml:\d+:\d+ YAML: /);
  });

  it('loads the committed demo and example configs when their variables are set', async () => {
    const demo = await loadConfig(new URL('../../config/demo.yaml', import.meta.url).pathname, {
      env: { DEMO_SCIM_SECRET: 'x', DEMO_OAUTH_CLIENT_SECRET: 'z', DEMO_LEGACY_URL: 'http://127.0.0.1:1', DEMO_LEGACY_TOKEN: 'y', DEMO_ADMIN_PASSWORD: 'z' },
    });
    expect(demo.connections[0]!.basePath).toBe('/demo/scim/v2');
    expect(demo.connections[1]).toMatchObject({ basePath: '/demo-oauth/scim/v2', tokenPath: '/demo-oauth/oauth2/token' });
  });

  it('takes sha256: hashes written literally, but no literal secret', () => {
    const hash = hashSecret('entra-secret');
    const config = loadConfigSource(base().replace('"${env:ACME_SECRET}"', `"${hash.toUpperCase().replace('SHA256', 'sha256')}"`), FILE, { env });
    expect(config.connections[0]!.auth.bearer[0]).toBe(hash);

    const oauth = (secret: string) =>
      base().replace('      bearer:', `      oauth2: { clients: [{ id: entra, secret: "${secret}" }] }\n      bearer:`);
    expect(loadConfigSource(oauth(hash), FILE, { env }).connections[0]).toMatchObject({
      tokenPath: '/acme/oauth2/token',
      auth: { oauth2: { clients: [{ id: 'entra', secret: hash }], tokenTtlSeconds: 3600 } },
    });
    const { code, lines } = issuesOf(() => loadConfigSource(oauth('plain-text'), FILE, { env }));
    expect(code).toBe('GW_CONFIG_LITERAL_SECRET');
    expect(lines[0]).toMatch(/connections\.0\.auth\.oauth2\.clients\.0\.secret: secrets must not be written/);
  });

  it('keeps scrape tokens of metrics.tokens only as digests, and refuses one written literally', () => {
    const withTokens = (token: string) => `metrics:\n  tokens: ["${token}"]\n${base()}`;
    const config = loadConfigSource(withTokens('${env:SCRAPE}'), FILE, { env: { ...env, SCRAPE: 'prometheus-token' } });
    expect(config.metrics.tokenHashes).toEqual([sha256Hex('prometheus-token')]);
    expect(JSON.stringify(config)).not.toContain('prometheus-token');
    const { code, lines } = issuesOf(() => loadConfigSource(withTokens('plain-text'), FILE, { env }));
    expect(code).toBe('GW_CONFIG_LITERAL_SECRET');
    expect(lines[0]).toMatch(/metrics\.tokens\.0: secrets must not be written/);
  });

  it('refuses a token path that another connection already uses', () => {
    const second = `
  - id: beta
    basePath: /acme/oauth2/token
    target: { baseUrl: http://127.0.0.1:1234 }
    mapping: ../mappings/app.yaml`;
    const withOauth = base(second).replace('      bearer:', '      oauth2: {}\n      bearer:');
    const { code, lines } = issuesOf(() => loadConfigSource(withOauth, FILE, { env }));
    expect(code).toBe('GW_CONFIG_INVALID');
    expect(lines.join('\n')).toMatch(/is used twice/);
  });
});
