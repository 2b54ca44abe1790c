import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { CONFIG_JSON_SCHEMA_FILE, renderConfigJsonSchema } from '../../src/config/json-schema.js';
import { MAPPING_JSON_SCHEMA_FILE, renderMappingJsonSchema } from '../../src/mapping/json-schema.js';

it('mappings/mapping.schema.json matches src/mapping/schema.ts (run `npm run gen:schemas` after changing it)', async () => {
  expect(await readFile(MAPPING_JSON_SCHEMA_FILE, 'utf8')).toBe(renderMappingJsonSchema());
});

it('config/config.schema.json matches src/config/schema.ts (run `npm run gen:schemas` after changing it)', async () => {
  expect(await readFile(CONFIG_JSON_SCHEMA_FILE, 'utf8')).toBe(renderConfigJsonSchema());
});
