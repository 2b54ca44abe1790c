import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatMappingIssue, MappingLoadError, type MappingIssue } from '../mapping/errors.js';
import { loadMappingSource } from '../mapping/load.js';

/**
 * `scim-bridge validate <file|dir>... [--json]`: loads each mapping exactly as the service does
 * (same loader, same checks) without starting anything. A directory means every *.yaml/*.yml
 * file in it. Exit codes: 0 all valid, 1 at least one invalid file, 2 usage or I/O error.
 */

export interface ValidateIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

const USAGE = 'usage: scim-bridge validate [--json] <mapping.yaml|dir>...\n';

export async function runValidate(args: string[], io: ValidateIo): Promise<number> {
  let parsed: { values: { json?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (err) {
    io.stderr(`GW_CLI_USAGE ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.positionals.length === 0) {
    io.stderr(`GW_CLI_USAGE no mapping file given\n${USAGE}`);
    return 2;
  }

  let ioFailed = false;
  const issues: MappingIssue[] = [];
  const results: { file: string; issues: MappingIssue[] }[] = [];
  for (const target of parsed.positionals) {
    let files: string[];
    try {
      files = await expand(target);
    } catch (err) {
      io.stderr(`scim-bridge validate: ${(err as Error).message}\n`);
      ioFailed = true;
      continue;
    }
    for (const file of files) {
      let source: string;
      try {
        source = await readFile(file, 'utf8');
      } catch (err) {
        io.stderr(`scim-bridge validate: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})\n`);
        ioFailed = true;
        continue;
      }
      const fileIssues = check(source, file);
      issues.push(...fileIssues);
      results.push({ file, issues: fileIssues });
    }
  }

  if (parsed.values.json) {
    io.stdout(`${JSON.stringify(issues.map((issue) => ({ code: 'GW_MAP_INVALID', ...issue })), null, 2)}\n`);
  } else {
    for (const result of results) {
      if (result.issues.length === 0) io.stdout(`ok ${result.file}\n`);
      else io.stdout(`${result.issues.map(formatMappingIssue).join('\n')}\n`);
    }
    const invalid = results.filter((result) => result.issues.length > 0).length;
    if (invalid > 0) io.stderr(`GW_MAP_INVALID ${issues.length} problem(s) in ${invalid} file(s); see docs/mapping.md\n`);
  }
  if (ioFailed) return 2;
  return issues.length > 0 ? 1 : 0;
}

function check(source: string, file: string): MappingIssue[] {
  try {
    loadMappingSource(source, file);
    return [];
  } catch (err) {
    if (err instanceof MappingLoadError) return err.issues;
    throw err;
  }
}

/** A file as is; a directory as its *.yaml/*.yml files, sorted. */
async function expand(target: string): Promise<string[]> {
  let info;
  try {
    info = await stat(target);
  } catch (err) {
    throw new Error(`cannot read ${target} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  if (!info.isDirectory()) return [target];
  const entries = (await readdir(target)).filter((name) => /\.ya?ml$/.test(name)).sort();
  if (entries.length === 0) throw new Error(`no *.yaml files in ${target}`);
  return entries.map((name) => join(target, name));
}
