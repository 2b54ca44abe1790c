import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TargetTlsConfig } from './schema.js';
import { BridgeError } from '../lib/errors.js';

/**
 * Mutual TLS towards a target (and its OAuth2 token endpoint, and the upstream of a `mode: proxy`
 * connection): the client certificate, its key and the CA bundle, read from files at start and
 * again on each config reload: a loaded config carries a digest of the files' contents
 * ({@link TLS_FILES_DIGEST}), so rotated files make the reload see a changed `target`.
 * Every problem is a GW_CONFIG_INVALID naming the config key and the file, never its contents.
 * The result is what undici's `connect` options take.
 * @see https://undici.nodejs.org/#/docs/api/Client?id=parameter-connectoptions
 * @see https://nodejs.org/api/tls.html#tlsconnectoptions-callback
 */

export interface TargetTlsMaterial {
  cert?: string;
  key?: string;
  passphrase?: string;
  ca?: string[];
  servername?: string;
}

/** One problem with one file, for config errors with a position (load.ts) or a plain message. */
export interface TlsFileIssue {
  /** Key under `target.tls`: cert, key or ca. */
  key: 'cert' | 'key' | 'ca';
  message: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Key of the SHA-256 of the cert, key and CA files' contents on a loaded `target.tls`. A symbol:
 * compared by the reload's deep equality (config/reload.ts), never serialized or printed.
 */
export const TLS_FILES_DIGEST = Symbol.for('scim-bridge.tlsFilesDigest');

/** `target.tls` as loaded from a file: with the digest of what its files held then. */
export type LoadedTargetTls = TargetTlsConfig & { [TLS_FILES_DIGEST]?: string };

/** Relative paths are taken from the config file's folder, like `mapping`. */
export function resolveTlsPaths(tls: TargetTlsConfig, baseDir: string): TargetTlsConfig {
  return {
    ...tls,
    ...(tls.cert === undefined ? {} : { cert: resolve(baseDir, tls.cert) }),
    ...(tls.key === undefined ? {} : { key: resolve(baseDir, tls.key) }),
    ...(tls.ca === undefined ? {} : { ca: resolve(baseDir, tls.ca) }),
  };
}

/** Reads and checks the files; problems come back as a list (empty: the material is usable). */
export function inspectTargetTls(tls: TargetTlsConfig): { material: TargetTlsMaterial; issues: TlsFileIssue[]; digest: string } {
  const issues: TlsFileIssue[] = [];
  const material: TargetTlsMaterial = {};
  const hash = createHash('sha256');
  const readText = (key: TlsFileIssue['key'], path: string, found: TlsFileIssue[]) => {
    const text = readFile(key, path, found);
    hash.update(`${key}\0${text ?? ''}\0`);
    return text;
  };
  let certificate: X509Certificate | undefined;
  let privateKey: KeyObject | undefined;

  if (tls.cert !== undefined) {
    const text = readText('cert', tls.cert, issues);
    if (text !== undefined) {
      const first = text.match(PEM_CERT)?.[0];
      certificate = first === undefined ? undefined : parseCertificate(first);
      if (certificate) material.cert = text;
      else issues.push({ key: 'cert', message: `${tls.cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
    }
  }
  if (tls.key !== undefined) {
    const text = readText('key', tls.key, issues);
    if (text !== undefined) {
      if (tls.passphrase === undefined && /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4,ENCRYPTED/.test(text)) {
        issues.push({ key: 'key', message: `${tls.key} is not a usable PEM private key: it is encrypted, give target.tls.passphrase` });
      } else try {
        privateKey = createPrivateKey(tls.passphrase === undefined ? { key: text } : { key: text, passphrase: tls.passphrase });
        material.key = text;
        if (tls.passphrase !== undefined) material.passphrase = tls.passphrase;
      } catch (error) {
        issues.push({ key: 'key', message: `${tls.key} is not a usable PEM private key${keyHint(error, tls.passphrase !== undefined)}` });
      }
    }
  }
  if (certificate && privateKey && !certificate.checkPrivateKey(privateKey)) {
    issues.push({ key: 'key', message: `${tls.key} is not the private key of the certificate in ${tls.cert}` });
  }
  if (tls.ca !== undefined) {
    const text = readText('ca', tls.ca, issues);
    if (text !== undefined) {
      const certs = text.match(PEM_CERT) ?? [];
      if (certs.length === 0 || certs.some((pem) => parseCertificate(pem) === undefined)) {
        issues.push({ key: 'ca', message: `${tls.ca} is not a bundle of PEM certificates` });
      } else {
        material.ca = certs;
      }
    }
  }
  if (tls.servername !== undefined) material.servername = tls.servername;
  return { material, issues, digest: hash.digest('hex') };
}

/** The material, or a GW_CONFIG_INVALID listing every problem (for configs built in code). */
export function loadTargetTls(tls: TargetTlsConfig, what = 'target.tls'): TargetTlsMaterial {
  const { material, issues } = inspectTargetTls(tls);
  if (issues.length > 0) {
    throw new BridgeError('GW_CONFIG_INVALID', issues.map((issue) => `${what}.${issue.key}: ${issue.message}`).join('\n'));
  }
  return material;
}

/** Subject, issuer and expiry of the client certificate, for `dry-run` (never key material). */
export function describeCertificate(pem: string): { subject: string; issuer: string; validTo: string } | undefined {
  const first = pem.match(PEM_CERT)?.[0];
  const certificate = first === undefined ? undefined : parseCertificate(first);
  if (!certificate) return undefined;
  const oneLine = (name: string) => name.split('\n').filter(Boolean).join(', ');
  return { subject: oneLine(certificate.subject), issuer: oneLine(certificate.issuer), validTo: certificate.validTo };
}

function readFile(key: TlsFileIssue['key'], path: string, issues: TlsFileIssue[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    issues.push({ key, message: `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})` });
    return undefined;
  }
}

function parseCertificate(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** Why a key did not load, without anything from the file. */
function keyHint(error: unknown, hasPassphrase: boolean): string {
  const code = (error as { code?: unknown }).code;
  const reason = (error as { reason?: unknown }).reason;
  if (code === 'ERR_MISSING_PASSPHRASE') return ': it is encrypted, give target.tls.passphrase';
  if (hasPassphrase && (reason === 'bad decrypt' || /decrypt/i.test(String((error as Error).message)))) return ': wrong passphrase';
  return typeof code === 'string' ? ` (${code})` : '';
}
