import type { FastifyInstance } from 'fastify';
import { parseTeamFields } from './body-schemas.js';
import type { Directory } from './directory.js';

interface ById {
  Params: { id: string };
}

interface ByMember {
  Params: { id: string; accountId: string };
}

/** `/api/v1/teams` and their members: the group half of the sample legacy API. */
export function registerTeamRoutes(app: FastifyInstance, directory: Directory): void {
  app.get('/api/v1/teams', async () => ({ data: directory.listTeams() }));

  app.post('/api/v1/teams', async (request, reply) => {
    const team = directory.createTeam(parseTeamFields(request.body));
    return reply.code(201).send({ data: team });
  });

  app.get<ById>('/api/v1/teams/:id', async (request) => ({ data: directory.getTeam(request.params.id) }));

  app.put<ById>('/api/v1/teams/:id', async (request) => {
    directory.getTeam(request.params.id);
    return { data: directory.replaceTeam(request.params.id, parseTeamFields(request.body)) };
  });

  app.delete<ById>('/api/v1/teams/:id', async (request, reply) => {
    directory.deleteTeam(request.params.id);
    return reply.code(204).send();
  });

  app.put<ByMember>('/api/v1/teams/:id/members/:accountId', async (request, reply) => {
    directory.addMember(request.params.id, request.params.accountId);
    return reply.code(204).send();
  });

  app.delete<ByMember>('/api/v1/teams/:id/members/:accountId', async (request, reply) => {
    directory.removeMember(request.params.id, request.params.accountId);
    return reply.code(204).send();
  });
}
