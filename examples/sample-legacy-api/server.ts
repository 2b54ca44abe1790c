import { startSampleLegacyApi } from './app.js';
import { runFakeApiProcess } from './listen.js';

/**
 * Runs the sample legacy API as its own process:
 * `LEGACY_API_TOKEN=secret PORT=4010 npx tsx examples/sample-legacy-api/server.ts`.
 * HOST defaults to 127.0.0.1 and PORT to 0 (a free port); the URL is printed on stdout.
 */
await runFakeApiProcess('sample legacy API', { name: 'LEGACY_API_TOKEN', meaning: 'the bearer token clients have to send' }, (token, listen) =>
  startSampleLegacyApi({ token, ...listen, logger: { level: 'info' } }),
);
