import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/lib/errors.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const REGISTRY = join(SRC, 'lib', 'errors.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every full `GW_…` code written in src/ outside the registry itself (prefixes like `GW_MAP_` excluded). */
function codesUsedInSource(): Set<string> {
  const used = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    if (file === REGISTRY) continue;
    for (const [code] of readFileSync(file, 'utf8').matchAll(/\bGW_[A-Z]+(?:_[A-Z]+)+\b/g)) used.add(code);
  }
  return used;
}

describe('error code catalogue', () => {
  it('documents exactly the codes the code base defines', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `(GW_[A-Z_]+)` \|/gm)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('emits every registered code somewhere, and uses no code outside the registry', () => {
    const used = codesUsedInSource();
    expect([...used].filter((code) => !(code in ERROR_CODES)).sort(), 'codes used in src/ but not in src/lib/errors.ts + docs/errors.md').toEqual([]);
    expect(Object.keys(ERROR_CODES).filter((code) => !used.has(code)).sort(), 'registered codes nothing emits').toEqual([]);
  });
});
