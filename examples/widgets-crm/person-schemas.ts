import { z } from 'zod';
import { ApiError } from '../sample-legacy-api/api-error.js';
import type { NewPerson, PersonPatch } from './people.js';

/**
 * Request validation for the Widgets CRM. Unlike the sample legacy API it answers 422 with
 * every problem listed by dotted path (`profile.nickname`), the way many newer SaaS APIs do.
 */

const text = z.string().nullable();

const profileSchema = z.strictObject({
  givenName: text.optional(),
  familyName: text.optional(),
  displayName: text.optional(),
  jobTitle: text.optional(),
});

const contactSchema = z.strictObject({
  email: z.email().nullable().optional(),
  phone: text.optional(),
});

const patchSchema = z.strictObject({
  username: z.string().min(1).optional(),
  externalKey: text.optional(),
  state: z.enum(['active', 'suspended']).optional(),
  profile: profileSchema.optional(),
  contact: contactSchema.optional(),
});

const createSchema = patchSchema.extend({ username: z.string().min(1) });

const querySchema = z.strictObject({ username: z.string().optional() });

export const parseNewPerson = (body: unknown): NewPerson => parseOrReject(createSchema, body);
export const parsePersonPatch = (body: unknown): PersonPatch => parseOrReject(patchSchema, body);
export const parsePeopleQuery = (query: unknown): { username?: string } => parseOrReject(querySchema, query);

/** One entry per problem, an unknown key reported at its own path. */
export interface ValidationProblem {
  path: string;
  reason: string;
}

function parseOrReject<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: ValidationProblem[] = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((name) => ({ path: [...issue.path, name].join('.'), reason: 'unknown field' }))
      : [{ path: issue.path.join('.'), reason: issue.message }],
  );
  throw new ApiError(422, { code: 'validation_failed', message: 'the request is not valid', errors });
}
