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

/** `fromGroups:` a value chosen by the groups the user is in, first matching row first. */
export const fromGroupsSchema = strictObject(
  {
    match: z
      .enum(['displayName', 'externalId', 'id'])
      .describe('Which group attribute the `groups` lists name. Default `displayName` (compared case-insensitively).')
      .optional(),
    table: z
      .array(
        strictObject(
          {
            groups: z.array(z.string().min(1)).min(1).describe('Group names (or externalIds / ids, see `match`); the row applies when the user is in any of them.'),
            value: z.unknown().describe('The field value when this row applies.'),
          },
          'a fromGroups row',
        ).describe('One row: the groups that give this value.'),
      )
      .min(1)
      .describe('Rows in priority order: the first row naming a group the user is in gives the value. No row applies → the field\'s `default`.'),
  },
  'fromGroups',
).describe("Derives the field from the user's group memberships (users only), e.g. a role from Entra groups. Re-delivered when memberships change or a group is renamed or deleted.");

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
    fromGroups: fromGroupsSchema.optional(),
    ref: z
      .enum(['User', 'Group'])
      .describe(
        "The value is the SCIM id of another User (or Group) of this connection and is sent as that resource's target id. Delivery waits until it has one; if it is deleted the field becomes null.",
      )
      .optional(),
    when: z
      .string()
      .min(1)
      .describe('JSONata condition over the SCIM resource (and `$groups`); the field is left out unless it is truthy.')
      .optional(),
    omitIfEmpty: z
      .boolean()
      .describe('Leave the field out when its value is undefined, null, "", an empty list or an empty object.')
      .optional(),
    type: z
      .enum(['string', 'number', 'boolean'])
      .describe('Convert the value: `string` (numbers and booleans as text), `number` (numeric text), `boolean` (`true`/`false`/`1`/`0`, any case). A value that cannot be converted is a GW_MAP_EVAL.')
      .optional(),
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
    const sources = (['from', 'expr', 'value', 'fromGroups'] as const).filter((key) => key in rule);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          sources.length === 0
            ? 'a field rule needs one source: add `from: <SCIM path>`, `expr: <JSONata>`, `value: <constant>` or `fromGroups: {…}`'
            : `a field rule takes exactly one source, found ${sources.map((s) => `\`${s}\``).join(' and ')}; keep one`,
      });
    }
  })
  .describe(
    'Where one target field gets its value: exactly one of `from`, `expr`, `value`, `fromGroups`, plus optional `ref`, `map`, `default`, `when`, `omitIfEmpty`, `type`.',
  );

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

/** `on:` one response rule: which answers mean what. */
export const responseRuleSchema = strictObject(
  {
    status: z
      .union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)])
      .describe('The status (or list of statuses) this rule applies to.'),
    match: z
      .string()
      .min(1)
      .describe('Optional JSONata predicate over the JSON answer body (`$status`, `$text` are bound too); the rule applies only when it is true.')
      .optional(),
    means: z
      .enum(['ok', 'exists', 'gone', 'retry', 'invalid'])
      .describe(
        '`ok`: success; `exists` (create only): the account is already there, run `lookup` and link it; `gone`: already deleted/removed, counts as done; `retry`: transient, retried with backoff; `invalid`: permanent failure (GW_DELIVERY_INVALID_VALUE) with `detail` in the failed job\'s reason.',
      ),
    detail: z
      .string()
      .min(1)
      .describe('For `invalid`: a response path (`error.message`, `errors[0].detail`) whose value goes into the failed job\'s reason.')
      .optional(),
  },
  'a response rule',
).describe('One response rule: `status`, optional `match`, what it `means`, and for `invalid` where the `detail` is.');

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
  when: z
    .string()
    .min(1)
    .describe('JSONata condition over the SCIM resource (with `$fields`, `$captured`, `$groups`); the call is skipped unless it is truthy.')
    .optional(),
  capture: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'capture names are letters, digits and _'), z.string().min(1))
    .describe('Values to keep from this call\'s answer for later calls of the same action: name → response path (`id`, `data.uid`, `header:location`). Use them as `{captured.<name>}`.')
    .optional(),
  on: z
    .array(responseRuleSchema)
    .describe('What particular answers mean, checked in order before the default rules (e.g. 409 on create = already exists).')
    .optional(),
};

const targetIdSchema = z
  .string()
  .min(1)
  .describe(
    'Where the target id is in the answer: a dotted path into the JSON body (`id`, `data.account_id`, `data[0].account_id`) or `header:location` (last path segment of that header).',
  );

/** One call, or a list of calls made in order (progress is saved after each one). */
function oneOrMany<T extends z.ZodType>(call: T, kind: string, description: string) {
  return z
    .union([call, z.array(call).min(1)], {
      error: () => `${kind} must be a call (method, path, …) or a list of calls`,
    })
    .describe(`${description} May be a list of calls, made in order; later calls can use \`{captured.<name>}\` from earlier answers.`);
}

function callSchema(kind: string, description: string) {
  const call = strictObject(callShape, `the ${kind} call`, (key) =>
    key === 'targetId' ? `targetId is only read from create and lookup answers; remove it from ${kind}` : undefined,
  ).describe(description);
  return oneOrMany(call, kind, description);
}

function idCallSchema(kind: string, description: string) {
  const call = strictObject(
    {
      ...callShape,
      targetId: targetIdSchema.optional(),
    },
    `the ${kind} call`,
  ).describe(description);
  return oneOrMany(call, kind, description).superRefine((value, ctx) => {
    const calls = Array.isArray(value) ? value : [value];
    if (!calls.some((c) => c.targetId !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: Array.isArray(value) ? [] : ['targetId'],
        message:
          '`targetId` is required: say where the new id is in the answer, e.g. `targetId: id`, `targetId: data.account_id` or `targetId: header:location`',
      });
    }
  });
}

const responsePath = z
  .string()
  .regex(/^(?:[^.[\]\s]+|\[\d+\])(?:\.[^.[\]\s]+|\[\d+\])*$/, 'write a dotted path such as "id", "data.items" or "data[0].id"');

/** How `scim-bridge reconcile` reads every account (or group) the target holds, page by page. */
export const listRuleSchema = strictObject(
  {
    path: z
      .string()
      .startsWith('/', 'the list path starts with "/", e.g. /api/accounts?page={page}&size={size}')
      .describe('GET path of one page; placeholders `{page}`, `{offset}`, `{size}` and `{cursor}` (empty on the first page).'),
    paging: z
      .enum(['page', 'offset', 'cursor'])
      .default('page')
      .describe('`page`: `{page}` counts up from `start`; `offset`: `{offset}` grows by the page size from `start`; `cursor`: `{cursor}` is read from each answer at `next`.'),
    start: z.number().int().min(0).describe('First page number or first offset. Default 1 for page, 0 for offset paging.').optional(),
    size: z.number().int().min(1).max(1_000).default(100).describe('Items asked for per page (`{size}`).'),
    items: responsePath.describe('Where the page\'s items are in the answer (`data`, `result.items`). Default: the answer is the list.').optional(),
    id: responsePath.default('id').describe('The target id inside one item.'),
    next: responsePath.describe('Cursor paging: where the next cursor is in the answer; none (or empty) means this was the last page.').optional(),
  },
  'the list rule',
)
  .superRefine((rule, ctx) => {
    if (rule.paging === 'cursor' && rule.next === undefined) {
      ctx.addIssue({ code: 'custom', path: ['next'], message: 'cursor paging needs `next`: where the next cursor is in the answer' });
    }
  })
  .describe('Used by `scim-bridge reconcile` to compare the target with the bridge: how to list what the target holds.');

/** Events a `webhook:` block of users / groups can post. */
export const USER_EVENTS = ['created', 'updated', 'deactivated', 'reactivated', 'deleted'] as const;
export const GROUP_EVENTS = ['created', 'updated', 'deleted', 'member_added', 'member_removed'] as const;

/** `webhook:` one event call per change, compiled into the section's ordinary calls (compile.ts, webhook.ts). */
function webhookSchema(kind: 'users' | 'groups') {
  const events = kind === 'users' ? USER_EVENTS : GROUP_EVENTS;
  const noun = kind === 'users' ? 'user' : 'group';
  return strictObject(
    {
      method: z.enum(['POST', 'PUT', 'PATCH']).describe('HTTP method of every event call. Default POST.').optional(),
      path: callShape.path.describe('Path every event is sent to, e.g. `/events`; a template like any call path.'),
      events: z
        .array(z.enum(events))
        .min(1)
        .refine((list) => new Set(list).size === list.length, 'each event may be listed once')
        .describe(`Which changes post an event: ${events.join(', ')}. Default all. \`created\` is required (it links the resource).`)
        .optional(),
      prefix: z
        .string()
        .min(1)
        .regex(/^[A-Za-z0-9_.:-]+$/, 'the prefix is letters, digits and . _ : -')
        .describe(`The first part of each event's type: \`<prefix>.<event>\`. Default \`${noun}\` (\`${noun}.created\`).`)
        .optional(),
      headers: callShape.headers,
      body: z
        .unknown()
        .describe(
          "Body of every resource event (templates; `{event}` is the event type). Default `{type: '{event}', id: '{resource.id}', data: '{fields}', previous: '{previous}'}`.",
        )
        .optional(),
      ...(kind === 'groups'
        ? {
            memberBody: z
              .unknown()
              .describe("Body of member_added / member_removed events. Default `{type: '{event}', id: '{resource.id}', member: '{member.targetId}'}`.")
              .optional(),
          }
        : {}),
      on: callShape.on,
    },
    `the ${kind} webhook`,
  ).describe(
    `Shorthand for a webhook target: one event call per change of a ${noun} (${events.join(', ')}), keyed by the bridge's SCIM id. Compiles into ordinary calls, so retries and signing (target.signing) are unchanged. Not together with explicit calls.`,
  );
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
  list: listRuleSchema.optional(),
  webhook: webhookSchema('users').optional(),
};

const groupCalls = {
  list: userCalls.list,
  webhook: webhookSchema('groups').optional(),
  lookup: userCalls.lookup,
  create: userCalls.create,
  update: userCalls.update,
  delete: userCalls.delete,
  addMember: callSchema('addMember', 'Adds one member (placeholders `{member.targetId}`, `{member.id}`) once the member exists in the target.').optional(),
  removeMember: callSchema('removeMember', 'Removes one member that Entra removed from the group.').optional(),
  addMembers: callSchema(
    'addMembers',
    'Adds many members in one call (placeholders `{members.targetIds}`, `{members.ids}`: lists of up to `memberChunkSize` members). Replaces addMember; the members are sent in chunks.',
  ).optional(),
  removeMembers: callSchema(
    'removeMembers',
    'Removes many members in one call (placeholders `{members.targetIds}`, `{members.ids}`). Replaces removeMember; the members are sent in chunks.',
  ).optional(),
  memberChunkSize: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .describe('How many members one addMembers / removeMembers call carries at most. Default 100.')
    .optional(),
  memberCallsPerJob: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .describe(
      'How many member calls (addMember, removeMember, or chunks of addMembers / removeMembers) one delivery job makes at most; the rest goes on in a follow-up job of the same group. Default 100.',
    )
    .optional(),
};

const sectionShape = {
  fields: fieldsSchema.optional(),
  validate: z
    .array(validateRuleSchema)
    .describe('Input rules checked before a write is accepted; a write that fails a rule is rejected with that rule\'s `detail`.')
    .optional(),
};

/** Calls a `webhook:` block stands for: they may not be written next to it. */
const WEBHOOK_REPLACES = ['lookup', 'create', 'update', 'deactivate', 'reactivate', 'delete', 'addMember', 'removeMember', 'addMembers', 'removeMembers'] as const;

function requireCreate(section: { create?: unknown; lookup?: unknown; webhook?: { events?: readonly string[] } }, ctx: z.RefinementCtx) {
  if (section.webhook !== undefined) {
    for (const key of WEBHOOK_REPLACES) {
      if ((section as Record<string, unknown>)[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `\`webhook:\` makes this section's calls; remove \`${key}\` (or remove \`webhook:\` and write every call)`,
        });
      }
    }
    const events = section.webhook.events;
    if (events && !events.includes('created')) {
      ctx.addIssue({ code: 'custom', path: ['webhook', 'events'], message: '`created` is required in events: the first event links the resource (by its SCIM id)' });
    }
    if (events && events.includes('deactivated') !== events.includes('reactivated')) {
      ctx.addIssue({
        code: 'custom',
        path: ['webhook', 'events'],
        message: 'list deactivated and reactivated together, or neither (then map `active` in fields so updated carries it)',
      });
    }
    return;
  }
  if (section.create === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'a section needs a `create` call (with `targetId`) so new resources can be delivered',
    });
  }
}

/** How users are delivered. */
export const usersSectionSchema = strictObject({ ...sectionShape, ...userCalls }, 'users', (key) =>
  ['addMember', 'removeMember', 'addMembers', 'removeMembers'].includes(key)
    ? `${key} is a group call; move it under groups:`
    : key === 'memberChunkSize' || key === 'memberCallsPerJob'
      ? `${key} is a group setting; move it under groups:`
      : undefined,
)
  .superRefine((section, ctx) => {
    requireCreate(section, ctx);
    if (section.webhook === undefined && (section.deactivate === undefined) !== (section.reactivate === undefined)) {
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
  .superRefine((section, ctx) => {
    requireCreate(section, ctx);
    for (const [one, many] of [
      ['addMember', 'addMembers'],
      ['removeMember', 'removeMembers'],
    ] as const) {
      if (section[one] !== undefined && section[many] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [many],
          message: `define ${one} (one call per member) or ${many} (one call per chunk of members), not both`,
        });
      }
    }
  })
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
export type ListRule = z.infer<typeof listRuleSchema>;

/** One call definition, whichever section and kind it belongs to. */
export interface CallDefinition {
  method: HttpMethod;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  targetId?: string;
  when?: string;
  capture?: Record<string, string>;
  on?: ResponseRule[];
}

export type ResponseRule = z.infer<typeof responseRuleSchema>;
export type FromGroups = z.infer<typeof fromGroupsSchema>;
