import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { compileMapping, type CompiledMapping, type CompileProblem } from './compile.js';
import { MappingLoadError, type MappingIssue } from './errors.js';
import { createMappingPlan } from './evaluate.js';
import { mappingFileSchema } from './schema.js';
import type { MappingPlan } from './types.js';
import { locate } from './yaml-position.js';

/**
 * Loads a mapping file: YAML → schema → compile. Every problem becomes a MappingIssue pointing at
 * the YAML node (and, for JSONata and templates, at the character) that causes it; all issues of
 * a stage are reported together in one MappingLoadError (GW_MAP_INVALID).
 */

/** Reads and loads a mapping file; the plan is named after the file unless it sets `name:`. */
export async function loadMapping(file: string): Promise<MappingPlan> {
  return createMappingPlan(await compileMappingFile(file));
}

/** Reads and compiles a mapping file (for tools that show its parts, like `explain`). */
export async function compileMappingFile(file: string): Promise<CompiledMapping> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new MappingLoadError([{ file, line: 0, col: 0, path: '', message: `cannot read the mapping file (${code}); check the path` }]);
  }
  return compileMappingSource(source, file);
}

/** Loads a mapping from its text; `file` is used for the default name and in messages. */
export function loadMappingSource(source: string, file: string): MappingPlan {
  return createMappingPlan(compileMappingSource(source, file));
}

/** YAML → schema → compile, every problem a MappingIssue. */
export function compileMappingSource(source: string, file: string): CompiledMapping {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new MappingLoadError(
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { file, line, col, path: '', message: `YAML ${error.code}: ${error.message.split('\n')[0]}${yamlHint(error.code)}` };
      }),
    );
  }
  const toIssue = (problem: CompileProblem): MappingIssue => {
    const { line, col } = locate(doc, lineCounter, source, problem.path, problem.offset);
    return { file, line, col, path: problem.path.join('.'), message: problem.message };
  };

  if (doc.contents === null) {
    throw new MappingLoadError([{ file, line: 1, col: 1, path: '', message: 'the file is empty; start it with `version: 1`' }]);
  }
  const parsed = mappingFileSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new MappingLoadError(withoutEchoes(parsed.error.issues).map((issue) => toIssue(fromZodIssue(issue))));

  const name = basename(file, extname(file));
  const { mapping, problems } = compileMapping(parsed.data, { name, file });
  if (!mapping) throw new MappingLoadError(problems.map(toIssue));
  return mapping;
}

/** Drops whole-object rule messages on an object that already has an unknown key (usually a typo of the missing key). */
function withoutEchoes(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const typoed = new Set(issues.filter((issue) => issue.code === 'unrecognized_keys').map((issue) => issue.path.join('.')));
  return issues.filter((issue) => issue.code !== 'custom' || !typoed.has(issue.path.join('.')));
}

function fromZodIssue(issue: z.core.$ZodIssue): CompileProblem {
  const path = issue.path.filter((step): step is string | number => typeof step !== 'symbol');
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) return { path: [...path, issue.keys[0]], message: issue.message };
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    const key = String(path[path.length - 1] ?? 'value');
    return { path, message: REQUIRED_HINTS[key] ?? `\`${key}\` is required here (${issue.message})` };
  }
  return { path, message: issue.message };
}

const REQUIRED_HINTS: Record<string, string> = {
  targetId: '`targetId` is required: say where the new id is in the answer, e.g. `targetId: id`, `targetId: data.account_id` or `targetId: header:location`',
  method: '`method` is required: one of GET, POST, PUT, PATCH, DELETE',
  path: '`path` is required: the URL path after the target base URL, e.g. `path: /api/v1/accounts/{targetId}`',
  expr: '`expr` is required: a quoted JSONata predicate, e.g. `expr: \'$contains(userName, "@")\'`',
  detail: '`detail` is required: the message Entra shows when the rule fails',
};

function yamlHint(code: string): string {
  if (code === 'BAD_SCALAR_START' || code === 'BLOCK_AS_IMPLICIT_KEY' || code === 'MULTILINE_IMPLICIT_KEY' || code === 'UNEXPECTED_TOKEN') {
    return ' (quote values that contain `:`, `` ` ``, `{`, `[` or `#`, e.g. expr: \'...\')';
  }
  if (code === 'BAD_INDENT') return ' (check the indentation: nested keys are indented by the same number of spaces)';
  if (code === 'DUPLICATE_KEY') return ' (each key may appear once; remove or merge the duplicate)';
  return '';
}
