/**
 * The roles the runtime logs in as. The owner that migrates (a superuser locally, Neon's
 * neon_superuser member in AWS) is never one of them: inside a request's transaction, `RESET
 * ROLE` or `SET ROLE postgres` would leave row-level security and the append-only trigger
 * behind. Instead:
 *
 * - requests log in as a NOINHERIT member of cairn_app alone: with no role set it can read
 *   nothing, and the one role it may switch to is cairn_app (which every transaction does);
 * - jobs log in as a NOINHERIT member of cairn_maintenance alone (which may in turn become
 *   cairn_app, for a job that works as one workspace's tenant, migration 0006).
 *
 * Neither is a superuser, creates roles or databases, replicates or bypasses RLS. The migrator
 * Lambda ensures the deployment's two (infra/database.ts names them and generates their
 * passwords); `npm start` on a server database ensures its own, named after the database, with
 * passwords it generates at every start and keeps in memory only.
 */
import { createHash, randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { type ConnectOptions, connect, type Database, rows } from "./client";
import { UserError } from "./user-error";

/** A role the runtime logs in as, and its password. */
export interface Login {
  role: string;
  password: string;
}

/** The runtime's logins: requests (a member of cairn_app) and jobs (a member of cairn_maintenance). */
export interface LoginRoles {
  app: Login;
  jobs: Login;
}

/** The one role each login may become. */
const GROUP = { app: "cairn_app", jobs: "cairn_maintenance" } as const;
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** What `newPassword` makes (and infra/database.ts): letters, digits, `-` and `_`, no quoting needed anywhere. */
const PASSWORD = /^[A-Za-z0-9_-]{32,128}$/;

/** `<database>_runtime` and `<database>_jobs` (a hash of the name when it is not a plain identifier). */
export function loginRoleNames(databaseName: string): { app: string; jobs: string } {
  const base = /^[a-z_][a-z0-9_]{0,50}$/.test(databaseName)
    ? databaseName
    : `cairn_${createHash("sha256").update(databaseName).digest("hex").slice(0, 16)}`;
  return { app: `${base}_runtime`, jobs: `${base}_jobs` };
}

/** 256 random bits. */
export const newPassword = (): string => randomBytes(32).toString("base64url");

/** The login roles of a database, with fresh passwords. */
export function newLoginRoles(databaseName: string): LoginRoles {
  const names = loginRoleNames(databaseName);
  return { app: { role: names.app, password: newPassword() }, jobs: { role: names.jobs, password: newPassword() } };
}

/** `url` with the login's user and password (same server, database and options). */
export function loginUrl(url: string, login: Login): string {
  const parsed = new URL(url);
  parsed.username = login.role;
  parsed.password = login.password;
  return parsed.toString();
}

/**
 * Creates each login role, or brings an existing one back to what it must be: LOGIN, NOINHERIT,
 * this password, a member of its group. Refuses (and changes nothing more) when the role has
 * privileges or memberships beyond that — someone granted them, and the runtime must not run
 * with them. Run by the owner (it needs CREATEROLE and ADMIN on the groups, which migration 0000
 * gave it); the password travels as a bound parameter and is used only inside the statement
 * that sets it.
 */
export async function ensureLoginRoles(owner: Database, logins: LoginRoles): Promise<void> {
  for (const login of [logins.app, logins.jobs]) {
    if (!ROLE_NAME.test(login.role)) throw new Error(`"${login.role}" is not a plain role name`);
    if (!PASSWORD.test(login.password)) throw new Error(`the password of ${login.role} is not 32-128 [A-Za-z0-9_-]`);
  }
  const done: string[] = [];
  try {
    await owner.db.transaction(async (tx) => {
      // Two starts at once (roles are cluster-wide, this lock is per database: names are too).
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('cairn login roles'))`);
      for (const kind of ["app", "jobs"] as const) {
        const { role, password } = logins[kind];
        await tx.execute(
          sql`select set_config('cairn.login_role', ${role}, true), set_config('cairn.login_group', ${GROUP[kind]}, true),
                     set_config('cairn.login_password', ${password}, true)`,
        );
        await tx.execute(ENSURE_LOGIN);
        done.push(role);
      }
      await tx.execute(sql`select set_config('cairn.login_password', '', true)`);
    });
  } catch (error) {
    // Only the driver's message: Drizzle's would quote the statement's parameters, the password among them.
    const role = [logins.app.role, logins.jobs.role].find((name) => !done.includes(name)) ?? logins.jobs.role;
    throw new Error(`could not ensure the login role ${role}: ${rootCause(error)}`);
  }
}

const ENSURE_LOGIN = sql.raw(`DO $$
DECLARE
  login text := current_setting('cairn.login_role');
  grp text := current_setting('cairn.login_group');
  secret text := current_setting('cairn.login_password');
  found pg_roles%ROWTYPE;
  others text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) THEN
    EXECUTE format('ALTER ROLE %I LOGIN NOINHERIT PASSWORD %L', login, secret);
  ELSE
    EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT PASSWORD %L', login, secret);
  END IF;
  EXECUTE format('GRANT %I TO %I', grp, login);
  SELECT * INTO found FROM pg_roles WHERE rolname = login;
  IF found.rolsuper OR found.rolcreaterole OR found.rolcreatedb OR found.rolreplication OR found.rolbypassrls THEN
    RAISE EXCEPTION 'role % may do more than a member of % (superuser, createrole, createdb, replication or bypassrls); remove that attribute', login, grp
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname) INTO others
    FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
    WHERE m.member = found.oid AND g.rolname <> grp;
  IF others IS NOT NULL THEN
    RAISE EXCEPTION 'role % must be a member of % only, and is also a member of %; revoke that', login, grp, others
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$$`);

/**
 * What `npm start` does on a server database after migrating as the owner: ensures the
 * database's login roles with fresh passwords and opens one pool as each, checking that both
 * can log in. The passwords live in these pools' connection strings only.
 */
export async function connectAsLoginRoles(
  url: string,
  owner: Database,
  options: ConnectOptions = {},
): Promise<{ app: Database; jobs: Database; logins: LoginRoles }> {
  const [current] = await rows<{ name: string }>(owner.db, sql`select current_database() as name`);
  if (!current) throw new Error("current_database() returned no row");
  const logins = newLoginRoles(current.name);
  await ensureLoginRoles(owner, logins);
  const opened: Database[] = [];
  try {
    for (const [login, max] of [
      [logins.app, options.max ?? 10],
      [logins.jobs, 5],
    ] as const) {
      const database = await connect(loginUrl(url, login), { ...options, driver: options.driver ?? owner.kind, max });
      opened.push(database);
      await database.db.execute(sql`select 1`).catch((error: unknown) => {
        throw new UserError(
          `Cairn could not log in as ${login.role}, the role it created to serve requests and run jobs without ` +
            `the owner's privileges: ${rootCause(error)}. The server must accept password logins ` +
            "(scram-sha-256 or md5 in pg_hba.conf) for it from this host; see docs/deploy.md.",
        );
      });
    }
  } catch (error) {
    await Promise.all(opened.map((database) => database.close()));
    throw error;
  }
  const [app, jobs] = opened as [Database, Database];
  return { app, jobs, logins };
}

/** The driver's message (Drizzle's wrapper would quote the statement). */
function rootCause(error: unknown): string {
  let e: unknown = error;
  while (e instanceof Error && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
