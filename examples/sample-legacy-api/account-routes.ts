import type { FastifyInstance } from 'fastify';
import { parseAccountFields, parseAccountQuery } from './body-schemas.js';
import type { Directory } from './directory.js';

interface ById {
  Params: { id: string };
}

/** `/api/v1/accounts`: the user half of the sample legacy API (see README.md for the table). */
export function registerAccountRoutes(app: FastifyInstance, directory: Directory): void {
  app.get('/api/v1/accounts', async (request) => ({ data: directory.listAccounts(parseAccountQuery(request.query)) }));

  app.post('/api/v1/accounts', async (request, reply) => {
    const account = directory.createAccount(parseAccountFields(request.body));
    return reply.code(201).send({ data: account });
  });

  app.get<ById>('/api/v1/accounts/:id', async (request) => ({ data: directory.getAccount(request.params.id) }));

  app.put<ById>('/api/v1/accounts/:id', async (request) => {
    directory.getAccount(request.params.id);
    return { data: directory.replaceAccount(request.params.id, parseAccountFields(request.body)) };
  });

  app.post<ById>('/api/v1/accounts/:id/disable', async (request, reply) => {
    directory.setAccountStatus(request.params.id, 'DISABLED');
    return reply.code(204).send();
  });

  app.post<ById>('/api/v1/accounts/:id/enable', async (request, reply) => {
    directory.setAccountStatus(request.params.id, 'ENABLED');
    return reply.code(204).send();
  });

  app.delete<ById>('/api/v1/accounts/:id', async (request, reply) => {
    directory.deleteAccount(request.params.id);
    return reply.code(204).send();
  });
}
