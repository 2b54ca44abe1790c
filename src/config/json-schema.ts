import { z } from 'zod';
import { configSchema } from './schema.js';

/** Where the generated JSON Schema is committed; config files point at it with a `$schema` comment. */
export const CONFIG_JSON_SCHEMA_FILE = 'config/config.schema.json';

/** The JSON Schema of `config/*.yaml`, for editor completion; the zod schema stays the source. */
export function renderConfigJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'scim-bridge configuration file' }, null, 2)}\n`;
}
