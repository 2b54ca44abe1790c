import type { FastifyInstance } from 'fastify';
import type { People } from './people.js';
import { parseNewPerson, parsePeopleQuery, parsePersonPatch } from './person-schemas.js';

interface ById {
  Params: { id: string };
}

/** `/v2/people`: the only resource of the Widgets CRM (it has no groups). */
export function registerPeopleRoutes(app: FastifyInstance, people: People): void {
  app.get('/v2/people', async (request) => {
    const items = people.find(parsePeopleQuery(request.query));
    return { items, total: items.length };
  });

  app.post('/v2/people', async (request, reply) => {
    const person = people.create(parseNewPerson(request.body));
    return reply.code(201).header('location', `/v2/people/${person.id}`).send();
  });

  app.get<ById>('/v2/people/:id', async (request) => people.get(request.params.id));

  app.patch<ById>('/v2/people/:id', async (request) => {
    people.get(request.params.id);
    return people.update(request.params.id, parsePersonPatch(request.body));
  });

  app.delete<ById>('/v2/people/:id', async (request, reply) => {
    people.delete(request.params.id);
    return reply.code(204).send();
  });
}
