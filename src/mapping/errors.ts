import { BridgeError } from '../lib/errors.js';

/**
 * The two ways a mapping can fail: at load (the file is wrong, GW_MAP_INVALID) and while mapping
 * one resource (an expression or template could not produce a value, GW_MAP_EVAL). Load errors
 * carry every problem found, each pointing at a line and column of the YAML file, so an
 * integrator fixes them all in one pass.
 */

/** One problem in a mapping file, pointing at the YAML node that causes it. */
export interface MappingIssue {
  file: string;
  /** 1-based line; 0 when the file could not be read at all. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Dotted path of the offending key, e.g. `users.fields.email.from`; empty for file-level problems. */
  path: string;
  message: string;
}

/** `file:line:col path: message`, the format editors and terminals turn into links. */
export function formatMappingIssue(issue: MappingIssue): string {
  return `${issue.file}:${issue.line}:${issue.col} ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

/** A mapping file that cannot be used; `issues` lists every problem found. */
export class MappingLoadError extends BridgeError {
  override readonly name = 'MappingLoadError';
  constructor(readonly issues: MappingIssue[]) {
    super('GW_MAP_INVALID', issues.map(formatMappingIssue).join('\n'));
  }
}

/**
 * A mapping that loaded fine failed on one resource (a JSONata runtime error, a template
 * placeholder without a value in a URL path). The worker treats it as permanent: retrying the
 * same resource with the same mapping fails the same way.
 */
export class MappingEvaluationError extends BridgeError {
  override readonly name = 'MappingEvaluationError';
  constructor(
    /** Where it failed, e.g. `users.fields.display_name` or `users.update.path`. */
    readonly where: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('GW_MAP_EVAL', `${where}: ${message}`, options);
  }
}
