import { randomUUID } from 'node:crypto';
import { ApiError } from '../sample-legacy-api/api-error.js';

export type PersonState = 'active' | 'suspended';

export interface Profile {
  givenName: string | null;
  familyName: string | null;
  displayName: string | null;
  jobTitle: string | null;
}

export interface Contact {
  email: string | null;
  phone: string | null;
}

export interface Person {
  id: string;
  username: string;
  externalKey: string | null;
  state: PersonState;
  profile: Profile;
  contact: Contact;
  createdAt: string;
  updatedAt: string;
}

/** A partial person as clients send it: every key optional, nested objects partial too. */
export interface PersonPatch {
  username?: string;
  externalKey?: string | null;
  state?: PersonState;
  profile?: Partial<Profile>;
  contact?: Partial<Contact>;
}

/** What a create needs: a username; everything else defaults to null / `active`. */
export type NewPerson = PersonPatch & { username: string };

/**
 * The Widgets CRM's people, in memory. Usernames are unique regardless of case. Updates merge
 * (JSON Merge Patch style): keys left out stay as they are, `null` clears a field. Methods
 * return copies and throw ApiError with the CRM's error body.
 * @see https://www.rfc-editor.org/rfc/rfc7396
 */
export interface People {
  create(input: NewPerson): Person;
  get(id: string): Person;
  find(filter?: { username?: string }): Person[];
  update(id: string, patch: PersonPatch): Person;
  delete(id: string): void;
}

const notFound = () => new ApiError(404, { code: 'not_found', message: 'person not found' });
const usernameTaken = () => new ApiError(409, { code: 'conflict', message: 'username already exists' });

const emptyProfile = (): Profile => ({ givenName: null, familyName: null, displayName: null, jobTitle: null });
const emptyContact = (): Contact => ({ email: null, phone: null });
const copy = (person: Person): Person => ({ ...person, profile: { ...person.profile }, contact: { ...person.contact } });

export function createPeople(): People {
  const byId = new Map<string, Person>();
  const idByUsername = new Map<string, string>();
  const key = (username: string) => username.toLowerCase();

  function stored(id: string): Person {
    const person = byId.get(id);
    if (!person) throw notFound();
    return person;
  }

  function apply(person: Person, patch: PersonPatch): void {
    if (patch.username !== undefined && key(patch.username) !== key(person.username)) {
      if (idByUsername.has(key(patch.username))) throw usernameTaken();
      idByUsername.delete(key(person.username));
      idByUsername.set(key(patch.username), person.id);
    }
    if (patch.username !== undefined) person.username = patch.username;
    if (patch.externalKey !== undefined) person.externalKey = patch.externalKey;
    if (patch.state !== undefined) person.state = patch.state;
    Object.assign(person.profile, patch.profile);
    Object.assign(person.contact, patch.contact);
    person.updatedAt = new Date().toISOString();
  }

  return {
    create(input) {
      if (idByUsername.has(key(input.username))) throw usernameTaken();
      const now = new Date().toISOString();
      const person: Person = {
        id: randomUUID(),
        username: input.username,
        externalKey: null,
        state: 'active',
        profile: emptyProfile(),
        contact: emptyContact(),
        createdAt: now,
        updatedAt: now,
      };
      idByUsername.set(key(input.username), person.id);
      byId.set(person.id, person);
      apply(person, input);
      return copy(person);
    },
    get: (id) => copy(stored(id)),
    find(filter = {}) {
      if (filter.username === undefined) return [...byId.values()].map(copy);
      const id = idByUsername.get(key(filter.username));
      return id === undefined ? [] : [copy(stored(id))];
    },
    update(id, patch) {
      const person = stored(id);
      apply(person, patch);
      return copy(person);
    },
    delete(id) {
      const person = stored(id);
      byId.delete(id);
      idByUsername.delete(key(person.username));
    },
  };
}
