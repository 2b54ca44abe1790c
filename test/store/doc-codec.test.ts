import { describe, expect, it } from 'vitest';
import { decodeDocument, encodeDocument } from '../../src/store/doc-codec.js';
import { entraUser, scimGroup } from './fixtures.js';

describe('document codec', () => {
  const user = entraUser('Zoë.Ünïcødé@example.com', { title: '✓ "quoted" \\ back', nested: { n: 1.5, none: null } });

  it('round-trips a document exactly in both forms', () => {
    expect(decodeDocument(encodeDocument(user, true))).toEqual(user);
    expect(decodeDocument(encodeDocument(user, false))).toEqual(user);
    const group = scimGroup('Sales');
    expect(decodeDocument(encodeDocument(group, true))).toEqual(group);
  });

  it('stores plain JSON as is and compressed documents as tagged text, much smaller', () => {
    expect(encodeDocument(user, false)).toBe(JSON.stringify(user));
    const compressed = encodeDocument(user, true);
    expect(compressed).toMatch(/^z1:[A-Za-z0-9+/=]+$/);
    expect(compressed.length).toBeLessThan(JSON.stringify(user).length * 0.6);
  });
});
