import { ApiError } from './api-error.js';

/** The editable fields of an account; absent optional fields are stored as `null`. */
export interface AccountFields {
  login: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  department: string | null;
  display_name: string | null;
}

export type AccountStatus = 'ENABLED' | 'DISABLED';

export interface Account extends AccountFields {
  account_id: string;
  status: AccountStatus;
}

export interface TeamFields {
  name: string;
  external_ref: string | null;
}

export interface Team extends TeamFields {
  team_id: string;
  /** Account ids, in the order they joined. */
  members: string[];
}

interface StoredTeam extends TeamFields {
  team_id: string;
  members: Set<string>;
}

/**
 * The sample legacy API's whole state, in memory: accounts and teams with the rules a typical
 * legacy user directory enforces (logins and team names unique regardless of case, memberships
 * only between existing records). Every method returns copies, so callers cannot change the
 * state behind its back; failures are thrown as ApiError with the API's error body.
 */
export interface Directory {
  listAccounts(filter?: { login?: string }): Account[];
  getAccount(id: string): Account;
  createAccount(fields: AccountFields): Account;
  replaceAccount(id: string, fields: AccountFields): Account;
  setAccountStatus(id: string, status: AccountStatus): void;
  /** Also removes the account from every team. */
  deleteAccount(id: string): void;
  listTeams(): Team[];
  getTeam(id: string): Team;
  createTeam(fields: TeamFields): Team;
  replaceTeam(id: string, fields: TeamFields): Team;
  deleteTeam(id: string): void;
  /** Idempotent: adding a member twice is not an error. */
  addMember(teamId: string, accountId: string): void;
  removeMember(teamId: string, accountId: string): void;
}

const notFound = () => new ApiError(404, { error: 'not_found' });

export function createDirectory(): Directory {
  const accounts = new Map<string, Account>();
  const accountIdByLogin = new Map<string, string>();
  const teams = new Map<string, StoredTeam>();
  const teamIdByName = new Map<string, string>();
  let nextAccount = 1;
  let nextTeam = 1;

  const key = (value: string) => value.toLowerCase();

  function storedAccount(id: string): Account {
    const account = accounts.get(id);
    if (!account) throw notFound();
    return account;
  }

  function storedTeam(id: string): StoredTeam {
    const team = teams.get(id);
    if (!team) throw notFound();
    return team;
  }

  function claim(index: Map<string, string>, value: string, id: string, error: string): void {
    const holder = index.get(key(value));
    if (holder !== undefined && holder !== id) throw new ApiError(409, { error });
  }

  function rename(index: Map<string, string>, before: string, after: string, id: string): void {
    index.delete(key(before));
    index.set(key(after), id);
  }

  const teamView = (team: StoredTeam): Team => ({ ...team, members: [...team.members] });

  return {
    listAccounts(filter = {}) {
      if (filter.login === undefined) return [...accounts.values()].map((account) => ({ ...account }));
      const id = accountIdByLogin.get(key(filter.login));
      const account = id === undefined ? undefined : accounts.get(id);
      return account ? [{ ...account }] : [];
    },
    getAccount: (id) => ({ ...storedAccount(id) }),
    createAccount(fields) {
      const id = `acc_${nextAccount}`;
      claim(accountIdByLogin, fields.login, id, 'login_taken');
      nextAccount += 1;
      const account: Account = { account_id: id, ...fields, status: 'ENABLED' };
      accounts.set(id, account);
      accountIdByLogin.set(key(fields.login), id);
      return { ...account };
    },
    replaceAccount(id, fields) {
      const account = storedAccount(id);
      claim(accountIdByLogin, fields.login, id, 'login_taken');
      rename(accountIdByLogin, account.login, fields.login, id);
      Object.assign(account, fields);
      return { ...account };
    },
    setAccountStatus(id, status) {
      storedAccount(id).status = status;
    },
    deleteAccount(id) {
      const account = storedAccount(id);
      accounts.delete(id);
      accountIdByLogin.delete(key(account.login));
      for (const team of teams.values()) team.members.delete(id);
    },
    listTeams: () => [...teams.values()].map(teamView),
    getTeam: (id) => teamView(storedTeam(id)),
    createTeam(fields) {
      const id = `team_${nextTeam}`;
      claim(teamIdByName, fields.name, id, 'name_taken');
      nextTeam += 1;
      const team: StoredTeam = { team_id: id, ...fields, members: new Set() };
      teams.set(id, team);
      teamIdByName.set(key(fields.name), id);
      return teamView(team);
    },
    replaceTeam(id, fields) {
      const team = storedTeam(id);
      claim(teamIdByName, fields.name, id, 'name_taken');
      rename(teamIdByName, team.name, fields.name, id);
      Object.assign(team, fields);
      return teamView(team);
    },
    deleteTeam(id) {
      const team = storedTeam(id);
      teams.delete(id);
      teamIdByName.delete(key(team.name));
    },
    addMember(teamId, accountId) {
      const team = storedTeam(teamId);
      storedAccount(accountId);
      team.members.add(accountId);
    },
    removeMember(teamId, accountId) {
      if (!storedTeam(teamId).members.delete(accountId)) throw new ApiError(404, { error: 'not_member' });
    },
  };
}
