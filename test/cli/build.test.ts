import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from './spawn-cli.js';

/**
 * The published `bin` (dist/src/cli/main.js) is what `npx scim-bridge` runs: it must build with
 * `npm run build` and run under plain node, without tsx, bundled files found from dist/.
 */

const run = promisify(execFile);
const BIN = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');

describe('npm run build', () => {
  it(
    'builds a bin that runs under plain node',
    async () => {
      await run('npm', ['run', 'build'], { cwd: PACKAGE_ROOT, timeout: 120_000 });

      const help = await run(process.execPath, [BIN, 'help'], { cwd: PACKAGE_ROOT, timeout: 30_000 });
      expect(help.stdout).toMatch(/^Usage: scim-bridge <command>/);

      const env = { ...process.env, DEMO_SCIM_SECRET: 's', DEMO_OAUTH_CLIENT_SECRET: 'c', DEMO_LEGACY_URL: 'http://127.0.0.1:4010', DEMO_LEGACY_TOKEN: 't', DEMO_ADMIN_PASSWORD: 'a' };
      const validate = await run(process.execPath, [BIN, 'validate', '--config', 'config/demo.yaml'], { cwd: PACKAGE_ROOT, env, timeout: 30_000 });
      expect(validate.stdout).toBe(`ok config/demo.yaml\nok ${join(PACKAGE_ROOT, 'mappings', 'sample-legacy.yaml')}\n`);
    },
    180_000,
  );
});
