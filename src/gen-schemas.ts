import { writeFile } from 'node:fs/promises';
import { CONFIG_JSON_SCHEMA_FILE, renderConfigJsonSchema } from './config/json-schema.js';
import { MAPPING_JSON_SCHEMA_FILE, renderMappingJsonSchema } from './mapping/json-schema.js';

/** `npm run gen:schemas`: regenerates the committed JSON Schemas after a change to a zod schema. */
for (const [file, render] of [
  [MAPPING_JSON_SCHEMA_FILE, renderMappingJsonSchema],
  [CONFIG_JSON_SCHEMA_FILE, renderConfigJsonSchema],
] as const) {
  await writeFile(file, render());
  process.stdout.write(`wrote ${file}\n`);
}
