import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding scim-bridge's package.json, whether the code runs from `src/` (tsx) or
 * from the compiled `dist/src/`, so bundled files (config/demo.yaml, mappings/) are found either way.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'config'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the scim-bridge package root');
    dir = parent;
  }
  return dir;
}
