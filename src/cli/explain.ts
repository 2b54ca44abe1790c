import { explainMapping } from '../mapping/explain.js';
import { compileMappingFile } from '../mapping/load.js';
import type { Io } from './main.js';
import { reportError } from './main.js';

/** `scim-bridge explain <mapping.yaml>`: which SCIM attribute feeds each field, which calls each change causes. */
export async function runExplain(args: string[], io: Io): Promise<number> {
  const [file, ...extra] = args;
  if (!file || extra.length > 0 || file.startsWith('-')) {
    io.stderr('Usage: scim-bridge explain <mapping.yaml>\n');
    return 2;
  }
  try {
    io.stdout(explainMapping(await compileMappingFile(file)));
    return 0;
  } catch (err) {
    return reportError(err, io);
  }
}
