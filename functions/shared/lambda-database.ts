import { Resource } from "sst/resource";
import { connect, type Database } from "../../db/client";
import type { LoginRoles } from "../../db/login-roles";
import { logger } from "./logger";

/*
 * Kept apart from the HTTP kit (lambda.ts) so job and migrator bundles don't carry Hono and zod.
 *
 * Each function is linked to the one connection string its work needs (infra/database.ts):
 * the API functions to `DatabaseUrl` (a login role of cairn_app only), the job functions to
 * `JobsDatabaseUrl` (a login role of cairn_maintenance only), the migrator alone to
 * `MigratorDatabase` (the owner). Unlinked (tests, a local invocation) each falls back to
 * DATABASE_URL.
 */

/** A linked pooled (PgBouncer) connection string. */
interface LinkedUrl {
  value: string;
}

/** What the migrator is linked to: the owner's direct connection, and the logins it ensures. */
interface LinkedMigratorDatabase {
  url: string;
  logins: LoginRoles;
}

function linked<T>(name: string): T | undefined {
  return name in Resource ? (Resource as unknown as Record<string, T>)[name] : undefined;
}

/**
 * The URL a function connects with: its link, else DATABASE_URL. Throws rather than falling
 * back to an embedded PGlite, which is never what a Lambda wants.
 */
export function deployedDatabaseUrl(link: "DatabaseUrl" | "JobsDatabaseUrl"): string {
  const url = linked<LinkedUrl>(link)?.value ?? process.env.DATABASE_URL;
  if (!url) throw new Error(`No database URL: link ${link} or set DATABASE_URL`);
  return url;
}

/** The migrator's connection (the owner's, unpooled: DDL wants a real session) and the logins to ensure, if linked. */
export function migratorDatabase(): { url: string; logins?: LoginRoles } {
  const migrator = linked<LinkedMigratorDatabase>("MigratorDatabase");
  const url = migrator?.url ?? process.env.DATABASE_URL;
  if (!url) throw new Error("No database URL: link MigratorDatabase or set DATABASE_URL");
  return { url, logins: migrator?.logins };
}

const pools = new Map<string, Promise<Database>>();

/** One pool per container, opened on first use and reused by every later invocation. */
function pooled(link: "DatabaseUrl" | "JobsDatabaseUrl"): Promise<Database> {
  let database = pools.get(link);
  if (!database) {
    database = connect(deployedDatabaseUrl(link), { log: logger }).catch((error) => {
      pools.delete(link);
      throw error;
    });
    pools.set(link, database);
  }
  return database;
}

/** The database of an API function (requests run as cairn_app). */
export const lambdaDatabase = (): Promise<Database> => pooled("DatabaseUrl");

/** The database of a job function (cairn_maintenance, or cairn_app as one workspace's tenant). */
export const jobsLambdaDatabase = (): Promise<Database> => pooled("JobsDatabaseUrl");
