import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { BridgeError, type ErrorCode } from '../lib/errors.js';
import { hashPassword, isSecretHash, sha256Hex, toSecretHash } from '../auth/secret-hash.js';
import { inspectTargetTls, resolveTlsPaths, TLS_FILES_DIGEST } from './target-tls.js';
import { configSchema, type AdminConfig, type BridgeConfig, type ConnectionAuthConfig, type RawConfig } from './schema.js';

/**
 * Loads `config/*.yaml`: resolves `${env:NAME}`, `${env:NAME:-default}` and `${file:PATH}`
 * placeholders, validates with zod, checks that secrets are not written literally, resolves
 * defaults that depend on other values (base paths, mapping paths) and freezes the result.
 * Every problem is reported as `file:line:col path: message`, with a hint on how to fix it.
 */

export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export class ConfigError extends BridgeError {
  override readonly name = 'ConfigError';
  constructor(
    code: ErrorCode,
    readonly issues: ConfigIssue[],
  ) {
    super(code, issues.map(formatIssue).join('\n'));
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col} ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

const PLACEHOLDER = /\$\{(env|file):([^}]*)\}/g;
/** A value that is one placeholder and nothing else, without a `:-default` (a literal). */
const SECRET_PLACEHOLDER = /^\$\{(?:env:[A-Za-z_][A-Za-z0-9_]*|file:[^}]+)\}$/;

/** Config paths whose values are secrets: they must come from a placeholder. */
const SECRET_PATHS: RegExp[] = [
  /^admin\.password$/,
  /^admin\.tokens\.\d+$/,
  /^metrics\.tokens\.\d+$/,
  /^connections\.\d+\.auth\.bearer\.\d+$/,
  /^connections\.\d+\.auth\.oauth2\.clients\.\d+\.secret$/,
  /^connections\.\d+\.auth\.oauth2\.signingKey$/,
  /^connections\.\d+\.target\.auth\.(token|password|value|clientSecret)$/,
  /^connections\.\d+\.target\.signing\.secret$/,
  /^connections\.\d+\.target\.tls\.passphrase$/,
];

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
}

export async function loadConfig(file: string, options: LoadConfigOptions = {}): Promise<BridgeConfig> {
  const path = resolve(file);
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('GW_CONFIG_INVALID', [
      { file, line: 0, col: 0, path: '', message: `cannot read the config file (${(err as NodeJS.ErrnoException).code ?? 'error'})` },
    ]);
  }
  return loadConfigSource(source, path, options);
}

export function loadConfigSource(source: string, file: string, options: LoadConfigOptions = {}): BridgeConfig {
  const env = options.env ?? process.env;
  const baseDir = dirname(resolve(file));
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false });
  const at = (offset: number | undefined, path: string, message: string): ConfigIssue => {
    const pos = offset === undefined ? { line: 1, col: 1 } : lineCounter.linePos(offset);
    return { file, line: pos.line, col: pos.col, path, message };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      'GW_CONFIG_INVALID',
      doc.errors.map((e) => at(e.pos[0], '', `YAML: ${e.message.split('\n')[0]}`)),
    );
  }

  const placeholderIssues: ConfigIssue[] = [];
  const fromPlaceholder = new Set<string>();
  /** Paths whose whole value is one default-less placeholder: the only acceptable secrets. */
  const secretPlaceholder = new Set<string>();
  visit(doc, {
    Scalar(key, node, ancestry) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const path = pathOf(ancestry, node);
      if (SECRET_PLACEHOLDER.test(node.value.trim())) secretPlaceholder.add(path);
      const resolved = node.value.replace(PLACEHOLDER, (_m, kind: string, arg: string) => {
        const value = kind === 'env' ? resolveEnv(arg, env) : resolveFile(arg, baseDir);
        if (value instanceof Error) {
          placeholderIssues.push(at(node.range?.[0], path, value.message));
          return '';
        }
        return value;
      });
      fromPlaceholder.add(path);
      node.value = resolved;
    },
  });
  if (placeholderIssues.length > 0) throw new ConfigError('GW_CONFIG_PLACEHOLDER', placeholderIssues);

  const input: unknown = doc.toJS() ?? {};
  let parsed = configSchema.safeParse(input);
  if (!parsed.success && coercePlaceholderScalars(input, parsed.error.issues, fromPlaceholder)) parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      'GW_CONFIG_INVALID',
      parsed.error.issues.map((issue) => {
        const path = issue.path.map(String);
        return at(nodeOffset(doc, path), path.join('.'), describeIssue(issue, doc.hasIn(path)));
      }),
    );
  }

  const literalSecrets: ConfigIssue[] = [];
  visit(doc, {
    Scalar(key, node, ancestry) {
      if (key === 'key') return;
      const path = pathOf(ancestry, node);
      // A `sha256:…` hash is not a secret: it may be written as it is.
      const isHash = typeof node.value === 'string' && isSecretHash(node.value.toLowerCase());
      if (SECRET_PATHS.some((re) => re.test(path)) && !secretPlaceholder.has(path) && !isHash) {
        // A `${env:NAME:-default}` default, or text around a placeholder, is a literal secret too.
        const hint = fromPlaceholder.has(path) ? ' alone, without a default or other text around it' : '';
        literalSecrets.push(
          at(node.range?.[0], path, `secrets must not be written in config files: use \${env:NAME} or \${file:/path/to/secret}${hint}`),
        );
      }
    },
  });
  if (literalSecrets.length > 0) throw new ConfigError('GW_CONFIG_LITERAL_SECRET', literalSecrets);

  // The TLS files are read (and checked) on every load, a reload included: their digest goes
  // into the config, so a reload sees rotated files as a changed target.
  const tlsIssues: ConfigIssue[] = [];
  const tlsDigests = new Map<number, string>();
  parsed.data.connections.forEach((c, i) => {
    if (c.target.tls === undefined) return;
    const { issues, digest } = inspectTargetTls(resolveTlsPaths(c.target.tls, baseDir));
    tlsDigests.set(i, digest);
    for (const issue of issues) {
      const path = ['connections', String(i), 'target', 'tls', issue.key];
      tlsIssues.push(at(nodeOffset(doc, path), path.join('.'), issue.message));
    }
  });
  if (tlsIssues.length > 0) throw new ConfigError('GW_CONFIG_INVALID', tlsIssues);
  return finalizeConfig(parsed.data, { file: resolve(file), baseDir, tlsDigests });
}

/**
 * Fills in defaults that depend on other values and freezes the result. Also used by tests and
 * the demo, which build configs in code (secrets there come from variables, not files).
 */
export function finalizeConfig(raw: RawConfig, options: { file?: string; baseDir: string; tlsDigests?: Map<number, string> }): BridgeConfig {
  const { admin, metrics, ...rest } = raw;
  const { tokens: scrapeTokens, ...metricsRest } = metrics;
  const config: BridgeConfig = {
    ...rest,
    ...(admin ? { admin: resolveAdmin(admin) } : {}),
    // Scrape tokens, like the admin ones, are kept only as digests.
    metrics: { ...metricsRest, tokenHashes: [...metrics.tokenHashes, ...scrapeTokens.map(sha256Hex)] },
    file: options.file,
    connections: raw.connections.map((c, i) => ({
      ...c,
      displayName: c.displayName ?? c.id,
      auth: hashConnectionSecrets(c.auth),
      basePath: c.basePath ?? `/${c.id}/scim/v2`,
      ...(c.target.tls === undefined ? {} : { target: { ...c.target, tls: withDigest(resolveTlsPaths(c.target.tls, options.baseDir), options.tlsDigests?.get(i)) } }),
      ...(c.mapping === undefined ? {} : { mappingPath: resolve(options.baseDir, c.mapping) }),
      ...(c.auth.oauth2 ? { tokenPath: c.auth.oauth2.tokenPath ?? `/${c.id}/oauth2/token` } : {}),
    })),
  };
  return deepFreeze(config);
}

function withDigest<T extends object>(tls: T, digest: string | undefined): T {
  return digest === undefined ? tls : { ...tls, [TLS_FILES_DIGEST]: digest };
}

/**
 * The scrypt hash of an admin password is salted, so two loads of the same file give two hashes.
 * To tell whether a reloaded config changed the password, each load keeps an HMAC of it under a
 * key that lives only in this process (useless outside it), next to the admin settings.
 */
const FINGERPRINT_KEY = randomBytes(32);
const passwordFingerprints = new WeakMap<AdminConfig, string>();

/** The admin settings in a form that compares equal when the file says the same (config/reload.ts). */
export function comparableAdmin(admin: AdminConfig | undefined): unknown {
  if (!admin) return admin;
  const { passwordHash, ...rest } = admin;
  return { ...rest, password: passwordFingerprints.get(admin) ?? passwordHash };
}

/** Keeps only hashes of the admin secrets: plain passwords and tokens do not outlive the load. */
function resolveAdmin(admin: NonNullable<RawConfig['admin']>): AdminConfig {
  const passwordHash = admin.passwordHash ?? (admin.password === undefined ? undefined : hashPassword(admin.password));
  const resolved: AdminConfig = {
    ...(admin.username === undefined ? {} : { username: admin.username }),
    ...(passwordHash === undefined ? {} : { passwordHash }),
    tokenHashes: [...admin.tokenHashes, ...admin.tokens.map(sha256Hex)],
    allow: admin.allow,
    failedLoginLimit: admin.failedLoginLimit,
  };
  if (admin.password !== undefined) passwordFingerprints.set(resolved, createHmac('sha256', FINGERPRINT_KEY).update(admin.password).digest('hex'));
  return resolved;
}

/** Secrets Entra presents are only kept as hashes: the plaintext is dropped here, at load. */
function hashConnectionSecrets(auth: ConnectionAuthConfig): ConnectionAuthConfig {
  return {
    ...auth,
    bearer: auth.bearer.map(toSecretHash),
    ...(auth.oauth2 ? { oauth2: { ...auth.oauth2, clients: auth.oauth2.clients.map((c) => ({ ...c, secret: toSecretHash(c.secret) })) } } : {}),
  };
}

/** Validates a config object built in code (tests, demo) with the same schema as files. */
export function configFromObject(input: unknown, baseDir = process.cwd()): BridgeConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      'GW_CONFIG_INVALID',
      parsed.error.issues.map((issue) => ({ file: '<object>', line: 0, col: 0, path: issue.path.join('.'), message: describeIssue(issue, true) })),
    );
  }
  return finalizeConfig(parsed.data, { baseDir });
}

/**
 * Placeholders always give text; a number or boolean field written as one (`port: ${env:PORT}`)
 * takes that text as its type. Only fields the schema rejected for being a string are touched,
 * so a secret that happens to look like a number stays a string. True when anything changed.
 */
function coercePlaceholderScalars(input: unknown, issues: z.core.$ZodIssue[], fromPlaceholder: Set<string>): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' || (issue.expected !== 'number' && issue.expected !== 'boolean')) continue;
    if (!fromPlaceholder.has(issue.path.join('.')) || issue.path.length === 0) continue;
    const parent = issue.path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown>)?.[key], input);
    const key = issue.path[issue.path.length - 1]!;
    if (typeof parent !== 'object' || parent === null) continue;
    const text = (parent as Record<PropertyKey, unknown>)[key];
    if (typeof text !== 'string') continue;
    const value = issue.expected === 'number' ? numberOf(text) : ({ true: true, false: false } as Record<string, boolean>)[text.trim()];
    if (value === undefined) continue;
    (parent as Record<PropertyKey, unknown>)[key] = value;
    changed = true;
  }
  return changed;
}

function numberOf(text: string): number | undefined {
  return /^\s*-?\d+(?:\.\d+)?\s*$/.test(text) ? Number(text) : undefined;
}

function resolveEnv(arg: string, env: NodeJS.ProcessEnv): string | Error {
  const sep = arg.indexOf(':-');
  const name = sep === -1 ? arg : arg.slice(0, sep);
  const fallback = sep === -1 ? undefined : arg.slice(sep + 2);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return new Error(`"${name}" is not a valid environment variable name`);
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  return new Error(`environment variable ${name} is not set (export it, or write \${env:${name}:-default})`);
}

function resolveFile(arg: string, baseDir: string): string | Error {
  const path = resolve(baseDir, arg);
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    return new Error(`cannot read secret file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function pathOf(ancestry: readonly unknown[], node: unknown): string {
  const parts: string[] = [];
  const chain = [...ancestry, node];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1] as { items?: unknown[] };
    const child = chain[i];
    if (isPair(parent)) continue;
    if (Array.isArray(parent.items)) {
      const index = parent.items.indexOf(child);
      if (isPair(child)) {
        const key = (child as { key: unknown }).key;
        parts.push(String(isScalar(key) ? key.value : key));
      } else if (index >= 0) {
        parts.push(String(index));
      }
    }
  }
  return parts.join('.');
}

function isPair(x: unknown): boolean {
  return typeof x === 'object' && x !== null && 'key' in x && 'value' in x && !('items' in x);
}

function nodeOffset(doc: Document, path: string[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return node.range[0];
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue, present = true): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling; see config/README.md)`;
  if (issue.code === 'invalid_type' && !present) return `is required (${issue.expected})`;
  return issue.message;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
