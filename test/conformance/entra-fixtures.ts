import { readFileSync } from 'node:fs';

/** A recorded Entra request body with the source it was taken from (see test/fixtures/entra/README.md). */
export interface RecordedBody {
  source: string;
  body: Record<string, unknown>;
}

export interface RecordedFilter {
  source: string;
  type: 'User' | 'Group';
  filter: string;
}

function load<T>(file: string): Record<string, T> {
  return JSON.parse(readFileSync(new URL(`../fixtures/entra/${file}`, import.meta.url), 'utf8')) as Record<string, T>;
}

/** One named entry of a fixture file; throws when the name is unknown, so a typo fails loudly. */
function entry<T>(entries: Record<string, T>, name: string): T {
  const found = entries[name];
  if (found === undefined) throw new Error(`no fixture named ${name}`);
  return structuredClone(found);
}

const usersPost = load<RecordedBody>('users-post.json');
const groupsPost = load<RecordedBody>('groups-post.json');
const userPatches = load<RecordedBody>('user-patches.json');
const groupPatches = load<RecordedBody>('group-patches.json');
const filters = load<RecordedFilter>('filters.json');

export const userPost = (name: string): Record<string, unknown> => entry(usersPost, name).body;
export const groupPost = (name: string): Record<string, unknown> => entry(groupsPost, name).body;
export const userPatch = (name: string): Record<string, unknown> => entry(userPatches, name).body;
export const groupPatch = (name: string): Record<string, unknown> => entry(groupPatches, name).body;
export const recordedFilter = (name: string): RecordedFilter => entry(filters, name);
