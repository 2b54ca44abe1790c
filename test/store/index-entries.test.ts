import { describe, expect, it } from 'vitest';
import { foldCase, indexEntries, indexValue } from '../../src/store/index-entries.js';
import { entraUser, scimGroup } from './fixtures.js';

describe('index entries', () => {
  it('folds case Unicode-aware and treats composed and decomposed accents alike', () => {
    expect(foldCase('ÉLODIE@Contoso.COM')).toBe('élodie@contoso.com');
    expect(foldCase('E\u0301lodie')).toBe(foldCase('\u00C9LODIE'));
    expect(foldCase('ΣΊΣΥΦΟΣ')).toBe(foldCase('σίσυφος'));
  });

  it('keeps externalId exact and folds the other attributes', () => {
    expect(indexValue('externalId', 'AbC')).toBe('AbC');
    expect(indexValue('userName', 'AbC')).toBe('abc');
    expect(indexValue('email', 'A@B.C')).toBe('a@b.c');
  });

  it('indexes every email of a user once, userName unique and the rest shared; an email equal to the userName only as the userName', () => {
    const user = entraUser('Ada@Example.com', {
      externalId: 'Ext-1',
      displayName: 'Ada',
      emails: [{ value: 'ADA@example.com' }, { value: 'ada@example.com' }, { value: 'a.l@example.com' }, { type: 'x' }],
    });
    expect(indexEntries('User', user)).toEqual([
      { attribute: 'userName', mode: 'unique', value: 'ada@example.com' },
      { attribute: 'externalId', mode: 'multi', value: 'Ext-1' },
      { attribute: 'displayName', mode: 'multi', value: 'ada' },
      { attribute: 'email', mode: 'multi', value: 'a.l@example.com' },
    ]);
  });

  it('makes displayName the unique attribute of groups and skips missing or non-string values', () => {
    expect(indexEntries('Group', scimGroup('Sales', { externalId: 42 }))).toEqual([
      { attribute: 'displayName', mode: 'unique', value: 'sales' },
    ]);
  });
});
