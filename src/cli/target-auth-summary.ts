import { readFileSync } from 'node:fs';
import type { TargetConfig } from '../config/schema.js';
import { describeCertificate } from '../config/target-tls.js';

/**
 * What the bridge adds to every call to a target, for `scim-bridge dry-run --config`: the auth
 * and signing headers with their secret parts replaced by REDACTED, the config's extra headers,
 * and a few lines describing the auth and TLS setup (token endpoint, client id, certificate
 * subject and file paths). Nothing secret is ever read into the output: no token, password, API
 * key, client secret, passphrase, or key file contents.
 */

export const REDACTED = '<redacted>';

export interface TargetAuthSummary {
  /** `target.headers`, lower-case names (a call's own headers override them). */
  configHeaders: Record<string, string>;
  /** Auth and signing headers, secrets redacted (they override a call's own headers). */
  authHeaders: Record<string, string>;
  /** Human-readable lines: `target: …`, `auth: …`, `tls: …`, `signing: …`. */
  lines: string[];
}

export function summarizeTargetAuth(target: TargetConfig): TargetAuthSummary {
  const configHeaders: Record<string, string> = Object.fromEntries(Object.entries(target.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const headers: Record<string, string> = {};
  const lines = [`target: ${target.baseUrl}`];
  const { auth } = target;
  switch (auth.type) {
    case 'none':
      lines.push('auth: none');
      break;
    case 'bearer':
      headers.authorization = `Bearer ${REDACTED}`;
      lines.push(`auth: bearer token ${REDACTED}`);
      break;
    case 'basic':
      headers.authorization = `Basic ${REDACTED}`;
      lines.push(`auth: basic, user ${auth.username}, password ${REDACTED}`);
      break;
    case 'apiKey':
      headers[auth.header.toLowerCase()] = REDACTED;
      lines.push(`auth: API key in ${auth.header}, value ${REDACTED}`);
      break;
    case 'oauth2':
      headers.authorization = `Bearer ${REDACTED}`;
      lines.push(
        [
          `auth: oauth2 client credentials, token endpoint ${auth.tokenUrl}`,
          `client id ${auth.clientId}`,
          `client secret ${REDACTED} (sent as client_secret_${auth.clientAuth})`,
          ...(auth.scope ? [`scope ${auth.scope}`] : []),
        ].join(', '),
      );
      break;
  }
  if (target.signing) {
    const name = target.signing.header.toLowerCase();
    headers[name] = `sha256=${REDACTED}`;
    headers[`${name}-timestamp`] = '<unix time>';
    lines.push(`signing: HMAC-SHA256 of "<timestamp>.<body>" in ${target.signing.header}, secret ${REDACTED}`);
  }
  if (target.tls) lines.push(...tlsLines(target.tls));
  return { configHeaders, authHeaders: headers, lines };
}

function tlsLines(tls: NonNullable<TargetConfig['tls']>): string[] {
  const lines: string[] = [];
  if (tls.cert !== undefined) {
    const facts = certificateFacts(tls.cert);
    lines.push(`tls: client certificate ${tls.cert}${facts ? ` (${facts})` : ''}`);
    lines.push(`tls: client key ${tls.key ?? ''}${tls.passphrase === undefined ? '' : `, passphrase ${REDACTED}`} (contents not shown)`);
  }
  lines.push(tls.ca === undefined ? 'tls: target certificate checked against the system roots' : `tls: target certificate checked against CA bundle ${tls.ca}`);
  if (tls.servername !== undefined) lines.push(`tls: target certificate name ${tls.servername}`);
  return lines;
}

function certificateFacts(path: string): string | undefined {
  try {
    const facts = describeCertificate(readFileSync(path, 'utf8'));
    return facts ? `subject ${facts.subject}; issuer ${facts.issuer}; valid until ${facts.validTo}` : undefined;
  } catch {
    return undefined;
  }
}
