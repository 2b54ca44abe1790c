import { z } from 'zod';

/**
 * The mapping file format, version 1, as a zod schema. It is the single source of truth: the
 * loader validates with it and `npm run gen:schemas` turns it into mappings/mapping.schema.json,
 * which drives editor completion (hence a `.describe()` on every key). Checks that need more than
 * one key at a time (template references, JSONata syntax) live in compile.ts.
 * @see ../../docs/mapping.md
 */

/** Strict object whose unknown-key message names the keys that are allowed, so the fix is obvious. */
function strictObject<T extends z.ZodRawShape>(shape: T, where: string, hint?: (key: string) => string | undefined) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const hints = issue.keys.map((key) => hint?.(key)).filter((h): h is string => h !== undefined);
      if (hints.length > 0) return hints.join('; ');
      const keys = issue.keys.map((key) => `"${key}"`).join(', ');
      return `unknown key ${keys} in ${where}; allowed keys: ${allowed}`;
    },
  });
}

/** HTTP methods a call may use. */
export const httpMethodSchema = z
  .enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
  .describe('HTTP method of the call, in capitals.');

/** A rule object: exactly one source (`from`, `expr`, `value`) plus optional `map` and `default`. */
export const fieldRuleObjectSchema = strictObject(
  {
    from: z
      .string()
      .min(1)
      .describe('SCIM path to read, e.g. `name.givenName`, `emails[type eq "work"].value` or a full URN attribute.')
      .optional(),
    expr: z
      .string()
      .min(1)
      .describe('JSONata expression evaluated with the SCIM resource as input. Always quote it in YAML.')
      .optional(),
    value: z.unknown().describe('A constant value, sent as written (string, number, boolean, null, list or object).').optional(),
    map: z
      .record(z.string(), z.unknown())
      .describe(
        'Value table: the source value is looked up by its string form (`true`, `42`, `Admin`). A value missing from the table becomes `default` if given, else passes through unchanged.',
      )
      .optional(),
    default: z
      .unknown()
      .describe('Used when the source yields nothing (undefined, null or ""), and for values missing from `map`. `default: null` sends null.')
      .optional(),
  },
  'a field rule',
)
  .superRefine((rule, ctx) => {
    const sources = (['from', 'expr', 'value'] as const).filter((key) => key in rule);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          sources.length === 0
            ? 'a field rule needs one source: add `from: <SCIM path>`, `expr: <JSONata>` or `value: <constant>`'
            : `a field rule takes exactly one source, found ${sources.map((s) => `\`${s}\``).join(' and ')}; keep one`,
      });
    }
  })
  .describe('Where one target field gets its value: exactly one of `from`, `expr`, `value`, plus optional `map` and `default`.');

/** A target field rule: a SCIM path string (shorthand for `{from: …}`) or a rule object. */
export const fieldRuleSchema = z
  .union([z.string().min(1).describe('SCIM path to read (shorthand for `{from: <path>}`).'), fieldRuleObjectSchema], {
    error: () => 'expected a SCIM path string or a rule object with `from`, `expr` or `value`',
  })
  .describe('A SCIM path string, or a rule object with exactly one of `from`, `expr`, `value`.');

/** Target field name → rule. Dots in a name build nested objects (`profile.first_name`). */
export const fieldsSchema = z
  .record(z.string().min(1), fieldRuleSchema)
  .describe(
    'Target field name → where its value comes from. Dots in a name build nested objects (`profile.first_name`). The result is the default body of create and update.',
  );

/** An input rule: the write is rejected with `detail` unless `expr` evaluates to true. */
export const validateRuleSchema = strictObject(
  {
    expr: z
      .string()
      .min(1)
      .describe('JSONata predicate over the SCIM resource; the write is accepted only when it evaluates to true.'),
    detail: z.string().min(1).describe('Message Entra receives (400 invalidValue) when the predicate is not true.'),
  },
  'a validate rule',
).describe('A JSONata predicate over the SCIM resource, and the message Entra gets when it is not true.');

const callShape = {
  method: httpMethodSchema,
  path: z
    .string()
    .min(1)
    .regex(/^\//, 'path must start with "/" (it is appended to the target base URL)')
    .describe('Path template appended to the target base URL, may include a query string. Placeholder values are URL-encoded.'),
  headers: z
    .record(z.string(), z.string())
    .describe('Extra request headers; values are templates. Authentication comes from the connection config, not from here.')
    .optional(),
  body: z
    .unknown()
    .describe(
      'JSON body; string leaves are templates. Default: the mapped fields for create and update, no body for the other calls. `body: null` sends no body.',
    )
    .optional(),
};

const targetIdSchema = z
  .string()
  .min(1)
  .describe(
    'Where the target id is in the answer: a dotted path into the JSON body (`id`, `data.account_id`, `data[0].account_id`) or `header:location` (last path segment of that header).',
  );

function callSchema(kind: string, description: string) {
  return strictObject(callShape, `the ${kind} call`, (key) =>
    key === 'targetId' ? `targetId is only read from create and lookup answers; remove it from ${kind}` : undefined,
  ).describe(description);
}

function idCallSchema(kind: string, description: string) {
  return strictObject(
    {
      ...callShape,
      targetId: targetIdSchema,
    },
    `the ${kind} call`,
  ).describe(description);
}

const userCalls = {
  lookup: idCallSchema(
    'lookup',
    'Finds an existing target account before creating one (links it instead of creating a duplicate). An answer without the id means "not found".',
  ).optional(),
  create: idCallSchema('create', 'Creates the account when the resource has no target id yet. `targetId` is required.').optional(),
  update: callSchema('update', 'Sends the mapped fields when they changed since the last delivery.').optional(),
  deactivate: callSchema('deactivate', 'Runs when `active` turns false. Define `reactivate` with it, or map `active` in fields instead.').optional(),
  reactivate: callSchema('reactivate', 'Runs when `active` turns true again. Define `deactivate` with it.').optional(),
  delete: callSchema('delete', 'Runs when Entra deletes the resource; a 404 or 410 answer counts as success.').optional(),
};

const groupCalls = {
  lookup: userCalls.lookup,
  create: userCalls.create,
  update: userCalls.update,
  delete: userCalls.delete,
  addMember: callSchema('addMember', 'Adds one member (placeholders `{member.targetId}`, `{member.id}`) once the member exists in the target.').optional(),
  removeMember: callSchema('removeMember', 'Removes one member that Entra removed from the group.').optional(),
};

const sectionShape = {
  fields: fieldsSchema.optional(),
  validate: z
    .array(validateRuleSchema)
    .describe('Input rules checked before a write is accepted; a write that fails a rule is rejected with that rule\'s `detail`.')
    .optional(),
};

function requireCreate(section: { create?: unknown; lookup?: unknown }, ctx: z.RefinementCtx) {
  if (section.create === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'a section needs a `create` call (with `targetId`) so new resources can be delivered',
    });
  }
}

/** How users are delivered. */
export const usersSectionSchema = strictObject({ ...sectionShape, ...userCalls }, 'users', (key) =>
  key === 'addMember' || key === 'removeMember' ? `${key} is a group call; move it under groups:` : undefined,
)
  .superRefine((section, ctx) => {
    requireCreate(section, ctx);
    if ((section.deactivate === undefined) !== (section.reactivate === undefined)) {
      const missing = section.deactivate === undefined ? 'deactivate' : 'reactivate';
      ctx.addIssue({
        code: 'custom',
        message: `define deactivate and reactivate together (add \`${missing}\`), or neither and map \`active\` in fields so update carries it`,
      });
    }
  })
  .describe('How users are delivered. Without this section users are stored by the bridge but not delivered.');

/** How groups are delivered. */
export const groupsSectionSchema = strictObject({ ...sectionShape, ...groupCalls }, 'groups', (key) =>
  key === 'deactivate' || key === 'reactivate' ? `groups have no ${key} call (SCIM groups have no active flag); remove it` : undefined,
)
  .superRefine(requireCreate)
  .describe('How groups and their memberships are delivered. Without this section groups are stored by the bridge but not delivered.');

/** A whole mapping file. */
export const mappingFileSchema = strictObject(
  {
    version: z.literal(1, { error: () => 'version must be 1 (write `version: 1` at the top of the file)' }).describe('Format version; must be 1.'),
    name: z
      .string()
      .min(1)
      .describe('Name of the mapping in logs and messages. Default: the file name without extension.')
      .optional(),
    users: usersSectionSchema.optional(),
    groups: groupsSectionSchema.optional(),
  },
  'the mapping file',
)
  .superRefine((file, ctx) => {
    if (file.users === undefined && file.groups === undefined) {
      ctx.addIssue({ code: 'custom', message: 'the mapping delivers nothing: add a `users:` or `groups:` section' });
    }
  })
  .describe('scim-bridge mapping file (version 1): how SCIM users and groups become calls on a REST API. See docs/mapping.md.');

export type MappingFile = z.infer<typeof mappingFileSchema>;
export type UsersSection = z.infer<typeof usersSectionSchema>;
export type GroupsSection = z.infer<typeof groupsSectionSchema>;
export type FieldRule = z.infer<typeof fieldRuleSchema>;
export type FieldRuleObject = z.infer<typeof fieldRuleObjectSchema>;
export type ValidateRule = z.infer<typeof validateRuleSchema>;
export type HttpMethod = z.infer<typeof httpMethodSchema>;

/** One call definition, whichever section and kind it belongs to. */
export interface CallDefinition {
  method: HttpMethod;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  targetId?: string;
}
