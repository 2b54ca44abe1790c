import { startWidgetsCrm } from './app.js';

/**
 * Runs the Widgets CRM as its own process:
 * `WIDGETS_API_KEY=secret PORT=4020 npx tsx examples/widgets-crm/server.ts`.
 * HOST defaults to 127.0.0.1 and PORT to 0 (a free port); the URL is printed on stdout.
 */

const apiKey = process.env.WIDGETS_API_KEY;
if (!apiKey) {
  console.error('WIDGETS_API_KEY must be set (the key clients send in X-Api-Key)');
  process.exit(2);
}
const port = Number(process.env.PORT ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be an integer between 0 and 65535, got "${process.env.PORT}"`);
  process.exit(2);
}

const api = await startWidgetsCrm({ apiKey, port, host: process.env.HOST ?? '127.0.0.1', logger: { level: 'info' } });
console.log(`widgets CRM listening on ${api.url}`);

const shutdown = () => {
  api.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
