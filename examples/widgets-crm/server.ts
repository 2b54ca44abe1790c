import { runFakeApiProcess } from '../sample-legacy-api/listen.js';
import { startWidgetsCrm } from './app.js';

/**
 * Runs the Widgets CRM as its own process:
 * `WIDGETS_API_KEY=secret PORT=4020 npx tsx examples/widgets-crm/server.ts`.
 * HOST defaults to 127.0.0.1 and PORT to 0 (a free port); the URL is printed on stdout.
 */
await runFakeApiProcess('widgets CRM', { name: 'WIDGETS_API_KEY', meaning: 'the key clients send in X-Api-Key' }, (apiKey, listen) =>
  startWidgetsCrm({ apiKey, ...listen, logger: { level: 'info' } }),
);
