import { BridgeError } from '../lib/errors.js';

/**
 * Joins a mapped request path to the connection's base URL. The origin comes only from config:
 * a path from a mapping template (with values from Entra in it) must never reach another host
 * or climb out of the base path.
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-5.2
 */

export interface TargetBase {
  /** `scheme://host:port` of the target, from config. */
  origin: string;
  /** The base URL's path without a trailing slash ('' for the root). */
  basePath: string;
}

export function parseTargetBase(baseUrl: string): TargetBase {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BridgeError('GW_CONFIG_INVALID', `target base URL must be http or https, got ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new BridgeError('GW_CONFIG_INVALID', 'target base URL must not carry credentials: use target.auth');
  }
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
}

/**
 * A path of these characters only, with a non-empty query if any, comes out of URL parsing as it
 * went in once `unsafeReason` passed it: nothing to percent-encode, no dot segment, no backslash.
 * Such paths (every path the sample mappings build) skip the parse.
 */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]+)?$/;

/** The request path (pathname + query) to send to `base.origin`; throws GW_MAP_EVAL when unsafe. */
export function joinTargetPath(base: TargetBase, path: string): string {
  const unsafe = unsafeReason(path);
  if (unsafe) throw new BridgeError('GW_MAP_EVAL', `mapped request path rejected: ${unsafe}`);
  if (PLAIN_PATH.test(path)) return `${base.basePath}${path}`;
  const url = new URL(`${base.basePath}${path}`, base.origin);
  if (url.origin !== base.origin) throw new BridgeError('GW_MAP_EVAL', 'mapped request path rejected: it changes the origin');
  return `${url.pathname}${url.search}`;
}

function unsafeReason(path: string): string | undefined {
  if (!path.startsWith('/')) return 'it must start with "/"';
  if (path.startsWith('//')) return 'it must not start with "//"';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\#\s]/.test(path)) return 'it contains a control character, space, "\\" or "#"';
  const pathname = path.split('?', 1)[0] ?? '';
  const segments = pathname.split('/').map((segment) => (segment.includes('%') ? safeDecode(segment) : segment));
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'it contains a "." or ".." segment';
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
