import { z } from 'zod';
import { ApiError } from './api-error.js';
import type { AccountFields, TeamFields } from './directory.js';

/**
 * Request validation for the sample legacy API. Objects are strict: an unknown key is a 400
 * `unknown_field` naming it, so a mapping that sends `firstName` instead of `first_name` fails
 * loudly instead of being silently ignored, as some real legacy APIs would do.
 */

const optionalText = z.string().nullish().transform((value) => value ?? null);

const accountSchema = z.strictObject({
  login: z.string().min(1),
  email: optionalText,
  first_name: optionalText,
  last_name: optionalText,
  department: optionalText,
  display_name: optionalText,
});

const accountQuerySchema = z.strictObject({ login: z.string().optional() });

const teamSchema = z.strictObject({
  name: z.string().min(1),
  external_ref: optionalText,
});

export const parseAccountFields = (body: unknown): AccountFields => parseOrReject(accountSchema, body);
export const parseAccountQuery = (query: unknown): { login?: string } => parseOrReject(accountQuerySchema, query);
export const parseTeamFields = (body: unknown): TeamFields => parseOrReject(teamSchema, body);

/**
 * Maps the first problem to the API's error body: `unknown_field` (with `field`) wins, so
 * mapping mistakes surface first; a bad or missing field `x` gives `invalid_x` (so an empty
 * login is `invalid_login`); a body that is not an object gives `invalid_body`.
 */
function parseOrReject<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const { issues } = result.error;
  const unknown = issues.find((issue) => issue.code === 'unrecognized_keys');
  if (unknown) throw new ApiError(400, { error: 'unknown_field', field: unknown.keys[0] });
  const field = issues[0]?.path[0];
  if (typeof field !== 'string') throw new ApiError(400, { error: 'invalid_body' });
  throw new ApiError(400, { error: `invalid_${field}`, field });
}
