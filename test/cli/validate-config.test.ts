import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureIo } from './capture-io.js';

/** `scim-bridge validate --config FILE`: the config and every mapping it names, in process. */

const DEMO_CONFIG = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));
const SAMPLE_MAPPING = fileURLToPath(new URL('../../mappings/sample-legacy.yaml', import.meta.url));

const connection = (mapping: string) => `connections:
  - id: acme
    auth:
      bearer:
        - \${env:ACME_SCIM_SECRET}
    target:
      baseUrl: http://127.0.0.1:9/legacy
    mapping: ${mapping}
`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-validate-config-'));
  await writeFile(join(dir, 'bad-port.yaml'), `listen:\n  host: 127.0.0.1\n  port: eighty\n${connection(SAMPLE_MAPPING)}`);
  await writeFile(join(dir, 'literal-secret.yaml'), connection(SAMPLE_MAPPING).replace('${env:ACME_SCIM_SECRET}', 'hunter2'));
  await writeFile(join(dir, 'broken-mapping.yaml'), 'version: 1\nusers:\n  create: { method: POST, path: /accounts }\n');
  await writeFile(join(dir, 'uses-broken-mapping.yaml'), connection('broken-mapping.yaml'));
});

afterEach(() => {
  vi.unstubAllEnvs();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function validateConfig(file: string) {
  const { io, out } = captureIo();
  const code = await main(['validate', '--config', file], io);
  return { code, ...out };
}

describe('scim-bridge validate --config', () => {
  it('accepts config/demo.yaml when the DEMO_* variables are set', async () => {
    vi.stubEnv('DEMO_SCIM_SECRET', 'scim-secret');
    vi.stubEnv('DEMO_OAUTH_CLIENT_SECRET', 'client-secret');
    vi.stubEnv('DEMO_LEGACY_URL', 'http://127.0.0.1:4010');
    vi.stubEnv('DEMO_LEGACY_TOKEN', 'legacy-token');
    vi.stubEnv('DEMO_ADMIN_PASSWORD', 'admin-password');
    const result = await validateConfig(DEMO_CONFIG);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`ok ${DEMO_CONFIG}\nok ${SAMPLE_MAPPING}\n`);
  });

  it('exits 1 naming the unset variable when a DEMO_* variable is missing', async () => {
    vi.stubEnv('DEMO_SCIM_SECRET', 'scim-secret');
    vi.stubEnv('DEMO_OAUTH_CLIENT_SECRET', 'client-secret');
    vi.stubEnv('DEMO_LEGACY_URL', 'http://127.0.0.1:4010');
    vi.stubEnv('DEMO_LEGACY_TOKEN', '');
    const result = await validateConfig(DEMO_CONFIG);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^GW_CONFIG_PLACEHOLDER\n${escape(DEMO_CONFIG)}:\\d+:\\d+ .*DEMO_LEGACY_TOKEN is not set`));
  });

  it('exits 1 with file:line:col on stderr for an invalid value', async () => {
    vi.stubEnv('ACME_SCIM_SECRET', 'scim-secret');
    const file = join(dir, 'bad-port.yaml');
    const result = await validateConfig(file);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^GW_CONFIG_INVALID\n${escape(file)}:3:9 listen\\.port: `, 'm'));
  });

  it('exits 1 with file:line:col on stderr for a secret written literally', async () => {
    const file = join(dir, 'literal-secret.yaml');
    const result = await validateConfig(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^GW_CONFIG_LITERAL_SECRET\n${escape(file)}:5:11 connections\\.0\\.auth\\.bearer\\.0: `, 'm'));
    expect(result.stderr).not.toContain('hunter2');
  });

  it('exits 1 with the mapping file:line:col when the config is fine but its mapping is broken', async () => {
    vi.stubEnv('ACME_SCIM_SECRET', 'scim-secret');
    const file = join(dir, 'uses-broken-mapping.yaml');
    const mapping = join(dir, 'broken-mapping.yaml');
    const result = await validateConfig(file);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^ok ${escape(file)}\n${escape(mapping)}:3:3 users\\.create\\.targetId: `));
    expect(result.stderr).toContain('GW_MAP_INVALID');
  });

  it.each([['validate', '--config'], ['serve', '--config'], ['worker', '--config']])(
    'exits 2 (I/O) for %s %s with a file that does not exist',
    async (...args) => {
      const { io, out } = captureIo();
      const missing = join(dir, 'missing.yaml');
      expect(await main([...args, missing], io)).toBe(2);
      expect(out.stderr).toBe(`scim-bridge: cannot read the config file ${missing} (ENOENT)\n`);
    },
  );

  it('exits 2 when --config has no file', async () => {
    const { io, out } = captureIo();
    expect(await main(['validate', '--config'], io)).toBe(2);
    expect(out.stderr).not.toBe('');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
