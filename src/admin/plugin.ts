import type { FastifyInstance } from 'fastify';
import type { AdminConfig } from '../config/schema.js';
import type { Runtime } from '../runtime.js';
import { adminApiPlugin } from './api.js';
import { registerAdminAuth } from './auth.js';
import { dashboardPlugin } from './dashboard.js';
import { sendAdminError } from './errors.js';

/**
 * Everything under /admin, in one encapsulated scope whose first hook is the admin auth check:
 * a route added here cannot be reached anonymously by accident. Unknown /admin paths answer 401
 * to anonymous callers too (the not-found handler runs the same hooks), so probing reveals
 * nothing.
 * @see https://fastify.dev/docs/latest/Reference/Encapsulation/
 */

export interface AdminPluginOptions {
  admin: AdminConfig;
  runtime: Runtime;
}

/** Where the admin scope is mounted. */
export const ADMIN_PREFIX = '/admin';
export const DASHBOARD_PATH = `${ADMIN_PREFIX}/queues`;

export async function adminPlugin(app: FastifyInstance, options: AdminPluginOptions): Promise<void> {
  await registerAdminAuth(app, options.admin, options.runtime.adminLoginCounter());
  app.setNotFoundHandler((request, reply) =>
    sendAdminError(reply, 404, 'not_found', `no admin route at ${request.method} ${request.url.split('?')[0]}`),
  );
  await app.register(dashboardPlugin, {
    prefix: '/queues',
    basePath: DASHBOARD_PATH,
    admin: options.admin,
    connections: options.runtime.connections,
    proxies: options.runtime.proxies,
  });
  await app.register(adminApiPlugin, { prefix: '/api', admin: options.admin, ops: options.runtime.ops });
}
