import { z } from 'zod';

/**
 * Custom SCIM schema extensions of one connection (`connections[].extensions`), the way Entra
 * lets admins map attributes to `urn:ietf:params:scim:schemas:extension:<name>:2.0:User`.
 * Each declared attribute follows RFC 7643 §7: a type, multiValued, caseExact, required and, for
 * complex attributes, one level of sub-attributes.
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-7
 */

const SCALAR_TYPES = ['string', 'boolean', 'integer', 'decimal', 'dateTime', 'reference'] as const;

const attributeName = z
  .string()
  .regex(/^[A-Za-z][\w$-]*$/, 'an attribute name starts with a letter and has letters, digits, "_", "-" or "$" (RFC 7643 §2.1)');

const attributeCommon = {
  name: attributeName,
  description: z.string().optional(),
  multiValued: z.boolean().default(false),
  /** Whether string comparison (filters, uniqueness) is case-sensitive. */
  caseExact: z.boolean().default(false),
  /** Must be present whenever the resource carries this extension. */
  required: z.boolean().default(false),
  mutability: z.enum(['readWrite', 'immutable', 'writeOnly']).default('readWrite'),
  canonicalValues: z.array(z.string()).optional(),
  /** For `reference` attributes: what they point at (`User`, `Group`, `external`, `uri`). */
  referenceTypes: z.array(z.string()).optional(),
};

const subAttributeSchema = z.object({ ...attributeCommon, type: z.enum(SCALAR_TYPES) }).strict();

const attributeSchema = z
  .object({
    ...attributeCommon,
    type: z.enum([...SCALAR_TYPES, 'complex']),
    subAttributes: z.array(subAttributeSchema).min(1).optional(),
  })
  .strict()
  .superRefine((attribute, ctx) => {
    if (attribute.type === 'complex' && !attribute.subAttributes) {
      ctx.addIssue({ code: 'custom', path: ['subAttributes'], message: 'a complex attribute needs subAttributes' });
    }
    if (attribute.type !== 'complex' && attribute.subAttributes) {
      ctx.addIssue({ code: 'custom', path: ['subAttributes'], message: 'only a complex attribute has subAttributes' });
    }
    if (attribute.subAttributes) checkUniqueNames(attribute.subAttributes, ['subAttributes'], ctx);
  });

const RESERVED_URNS = [
  'urn:ietf:params:scim:schemas:core:2.0:user',
  'urn:ietf:params:scim:schemas:core:2.0:group',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user',
];

export const extensionSchema = z
  .object({
    /** The schema URN, e.g. `urn:ietf:params:scim:schemas:extension:acme:2.0:User`. */
    id: z
      .string()
      .regex(/^urn:[A-Za-z0-9][\w.-]*(?::[\w.-]+)+$/, 'must be a schema URN such as urn:ietf:params:scim:schemas:extension:acme:2.0:User')
      .refine((id) => !RESERVED_URNS.includes(id.toLowerCase()), 'the core and enterprise schemas are built in'),
    /** Short name shown in /Schemas; defaults to the URN's last segments. */
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    resourceType: z.enum(['User', 'Group']).default('User'),
    /** Whether every resource of the type must carry this extension (RFC 7643 §6 `schemaExtensions.required`). */
    required: z.boolean().default(false),
    attributes: z.array(attributeSchema).min(1, 'declare at least one attribute'),
  })
  .strict()
  .superRefine((extension, ctx) => checkUniqueNames(extension.attributes, ['attributes'], ctx));

export type ExtensionConfig = z.infer<typeof extensionSchema>;
export type ExtensionAttributeConfig = z.infer<typeof attributeSchema>;

/** Attribute names are case-insensitive (RFC 7643 §2.1), so `Badge` and `badge` clash. */
function checkUniqueNames(attributes: readonly { name: string }[], path: (string | number)[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  attributes.forEach((attribute, index) => {
    const lower = attribute.name.toLowerCase();
    if (seen.has(lower)) ctx.addIssue({ code: 'custom', path: [...path, index, 'name'], message: `attribute "${attribute.name}" is declared twice` });
    seen.add(lower);
  });
}

/** Extension URNs are unique per connection, compared case-insensitively. */
export function checkUniqueExtensions(extensions: readonly ExtensionConfig[], path: (string | number)[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  extensions.forEach((extension, index) => {
    const lower = extension.id.toLowerCase();
    if (seen.has(lower)) ctx.addIssue({ code: 'custom', path: [...path, index, 'id'], message: `extension ${extension.id} is declared twice` });
    seen.add(lower);
  });
}
