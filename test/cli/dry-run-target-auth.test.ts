import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { makeTestPki, type TestPki } from '../helpers/tls-certs.js';
import { captureIo } from './capture-io.js';

/**
 * `scim-bridge dry-run --config`: besides the calls, the target auth the connection would apply,
 * with every secret redacted (token, password, API key, client secret, signing secret, key
 * passphrase), the OAuth2 token endpoint and client id, and the mTLS files with the client
 * certificate's subject, never the key's contents.
 */

const MAPPING = fileURLToPath(new URL('../../mappings/sample-legacy.yaml', import.meta.url));
const POST_USER = fileURLToPath(new URL('./fixtures/post-user.json', import.meta.url));
const SECRETS = {
  APP_TOKEN: 'tok-9f8e7d6c5b4a',
  APP_PASSWORD: 'pw-1a2b3c4d5e',
  APP_KEY: 'key-5e4d3c2b1a',
  APP_CLIENT_SECRET: 'cs-0a9b8c7d6e',
  SIGNING_SECRET: 'sig-6e5d4c3b2a',
};

let dir: string;
let pki: TestPki;
let config: string;

beforeAll(() => {
  pki = makeTestPki();
  dir = mkdtempSync(join(tmpdir(), 'scim-bridge-dryrun-auth-'));
  writeFileSync(join(dir, 'passphrase'), pki.passphrase);
  const connection = (id: string, target: string) =>
    [`  - id: ${id}`, `    mapping: ${MAPPING}`, '    target:', ...target.trim().split('\n').map((line) => `      ${line}`)].join('\n');
  config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'connections:',
      connection('bearer', 'baseUrl: https://app.example.com/api\nauth: { type: bearer, token: "${env:APP_TOKEN}" }\nheaders: { X-Tenant: acme }'),
      connection('basic', 'baseUrl: https://app.example.com\nauth: { type: basic, username: svc-bridge, password: "${env:APP_PASSWORD}" }'),
      connection('apikey', 'baseUrl: https://app.example.com\nauth: { type: apiKey, header: X-Legacy-Key, value: "${env:APP_KEY}" }'),
      connection(
        'oauth',
        `baseUrl: https://app.example.com
auth: { type: oauth2, tokenUrl: "https://login.example.com/oauth2/token", clientId: scim-bridge, clientSecret: "\${env:APP_CLIENT_SECRET}", scope: users.write }
signing: { secret: "\${env:SIGNING_SECRET}" }
tls:
  cert: ${pki.clientCert}
  key: ${pki.clientKeyEncrypted}
  passphrase: "\${file:passphrase}"
  ca: ${pki.caCert}
  servername: app.internal`,
      ),
      '',
    ].join('\n'),
  );
  Object.assign(process.env, SECRETS);
});

afterAll(() => {
  for (const name of Object.keys(SECRETS)) delete process.env[name];
  rmSync(dir, { recursive: true, force: true });
  pki?.cleanup();
});

async function dryRun(...args: string[]) {
  const { io, out } = captureIo();
  const code = await main(['dry-run', '--config', config, '--request', POST_USER, ...args], io);
  const everything = out.stdout + out.stderr;
  for (const secret of [...Object.values(SECRETS), pki.passphrase]) expect(everything).not.toContain(secret);
  expect(everything).not.toContain('PRIVATE KEY');
  return { code, ...out };
}

describe('scim-bridge dry-run --config', () => {
  it('bearer: every call carries the redacted Authorization header and the config headers', async () => {
    const result = await dryRun('--connection', 'bearer');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      ['POST /api/v1/accounts', 'x-tenant: acme', 'authorization: Bearer <redacted>', '{'].join('\n'),
    );
    expect(result.stdout.endsWith(['target: https://app.example.com/api (connection bearer)', 'auth: bearer token <redacted>', ''].join('\n'))).toBe(true);
  });

  it('basic: the user is shown, the password is not', async () => {
    const result = await dryRun('--connection', 'basic');
    expect(result.stdout).toContain('authorization: Basic <redacted>\n');
    expect(result.stdout).toContain('auth: basic, user svc-bridge, password <redacted>\n');
    expect(result.stdout).not.toContain(Buffer.from(`svc-bridge:${SECRETS.APP_PASSWORD}`).toString('base64'));
  });

  it('apiKey: the header is named, its value redacted', async () => {
    const result = await dryRun('--connection', 'apikey');
    expect(result.stdout).toContain('x-legacy-key: <redacted>\n');
    expect(result.stdout).toContain('auth: API key in X-Legacy-Key, value <redacted>\n');
  });

  it('oauth2 with signing and mTLS: token endpoint, client id and files, never a secret or the key', async () => {
    const result = await dryRun('--connection', 'oauth');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('authorization: Bearer <redacted>\nx-signature: sha256=<redacted>\nx-signature-timestamp: <unix time>\n');
    const summary = result.stdout.slice(result.stdout.indexOf('target: '));
    expect(summary.split('\n')).toEqual([
      'target: https://app.example.com (connection oauth)',
      'auth: oauth2 client credentials, token endpoint https://login.example.com/oauth2/token, client id scim-bridge, client secret <redacted> (sent as client_secret_basic), scope users.write',
      'signing: HMAC-SHA256 of "<timestamp>.<body>" in X-Signature, secret <redacted>',
      expect.stringMatching(
        new RegExp(`^tls: client certificate ${pki.clientCert} \\(subject CN=client, O=scim-bridge tests; issuer CN=ca; valid until .+\\)$`),
      ),
      `tls: client key ${pki.clientKeyEncrypted}, passphrase <redacted> (contents not shown)`,
      `tls: target certificate checked against CA bundle ${pki.caCert}`,
      'tls: target certificate name app.internal',
      '',
    ]);
  });

  it('--json adds the redacted headers to each call', async () => {
    const result = await dryRun('--connection', 'basic', '--json');
    const calls = JSON.parse(result.stdout) as Array<{ headers: Record<string, string> }>;
    expect(calls.map((c) => c.headers)).toEqual([{ authorization: 'Basic <redacted>' }, { authorization: 'Basic <redacted>' }]);
  });

  it('asks for --connection when the config has several, and names an unknown one', async () => {
    const several = await dryRun();
    expect(several.code).toBe(2);
    expect(several.stderr).toBe('scim-bridge dry-run: the config has several connections: name one with --connection (bearer, basic, apikey, oauth)\n');
    const unknown = await dryRun('--connection', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no connection "nope" in the config');
  });
});
