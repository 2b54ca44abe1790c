import { writeFile } from 'node:fs/promises';
import { MAPPING_JSON_SCHEMA_FILE, renderMappingJsonSchema } from './json-schema.js';

/** `npm run gen:schemas`: regenerates the committed JSON Schema after a change to schema.ts. */
await writeFile(MAPPING_JSON_SCHEMA_FILE, renderMappingJsonSchema());
process.stdout.write(`wrote ${MAPPING_JSON_SCHEMA_FILE}\n`);
