import { startSampleLegacyApi } from './app.js';

/**
 * Runs the sample legacy API as its own process:
 * `LEGACY_API_TOKEN=secret PORT=4010 npx tsx examples/sample-legacy-api/server.ts`.
 * HOST defaults to 127.0.0.1 and PORT to 0 (a free port); the URL is printed on stdout.
 */

const token = process.env.LEGACY_API_TOKEN;
if (!token) {
  console.error('LEGACY_API_TOKEN must be set (the bearer token clients have to send)');
  process.exit(2);
}
const port = Number(process.env.PORT ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be an integer between 0 and 65535, got "${process.env.PORT}"`);
  process.exit(2);
}

const api = await startSampleLegacyApi({ token, port, host: process.env.HOST ?? '127.0.0.1', logger: { level: 'info' } });
console.log(`sample legacy API listening on ${api.url}`);

const shutdown = () => {
  api.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
