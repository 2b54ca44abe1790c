import { parseArgs } from 'node:util';
import type { Io } from './main.js';

/**
 * `scim-bridge healthcheck [--url URL]`: exit 0 when the bridge's readiness route answers 2xx,
 * 1 otherwise. It exists for container HEALTHCHECKs, because the runtime image has no curl.
 * The URL comes from `--url`, then $HEALTHCHECK_URL, then `http://127.0.0.1:$PORT/readyz`.
 */

const TIMEOUT_MS = 2_500;

export async function runHealthcheck(args: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { url: { type: 'string' } }, strict: true }));
  } catch (err) {
    io.stderr(`scim-bridge healthcheck: ${(err as Error).message}\n`);
    return 2;
  }
  const url = values.url ?? env.HEALTHCHECK_URL ?? `http://127.0.0.1:${env.PORT || '8080'}/readyz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    if (response.ok) return 0;
    io.stderr(`scim-bridge healthcheck: ${url} answered ${response.status}\n`);
    return 1;
  } catch (err) {
    io.stderr(`scim-bridge healthcheck: ${url} did not answer (${(err as Error).name})\n`);
    return 1;
  }
}
