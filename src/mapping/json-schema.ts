import { z } from 'zod';
import { mappingFileSchema } from './schema.js';

/** Where the generated JSON Schema is committed; mapping files point at it with a `$schema` comment. */
export const MAPPING_JSON_SCHEMA_FILE = 'mappings/mapping.schema.json';

/**
 * The JSON Schema of the mapping format, as committed in mappings/mapping.schema.json. Editors
 * (yaml-language-server) use it for completion and hover help; the zod schema stays the source.
 * Input mode, because that is what a person writes.
 * @see https://zod.dev/json-schema
 */
export function renderMappingJsonSchema(): string {
  const schema = z.toJSONSchema(mappingFileSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'scim-bridge mapping file (version 1)' }, null, 2)}\n`;
}
