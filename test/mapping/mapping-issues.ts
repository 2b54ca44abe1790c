import { expect } from 'vitest';
import { MappingLoadError, type MappingIssue } from '../../src/mapping/errors.js';
import { loadMappingSource } from '../../src/mapping/load.js';

/** The issues a mapping source is rejected with (GW_MAP_INVALID); fails the test if it loads. */
export function mappingIssues(source: string): MappingIssue[] {
  try {
    loadMappingSource(source, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(MappingLoadError);
    expect((err as MappingLoadError).code).toBe('GW_MAP_INVALID');
    return (err as MappingLoadError).issues;
  }
  throw new Error('expected the mapping to be rejected');
}
