import { Resource } from "sst/resource";
import { connect, type Database } from "../../db/client";
import { logger } from "./logger";

/*
 * Kept apart from the HTTP kit (lambda.ts) so job and migrator bundles don't carry Hono and zod.
 */

let database: Promise<Database> | undefined;

interface LinkedDatabase {
  /** The pooled connection string (PgBouncer): what request and job functions use. */
  value: string;
  /** The unpooled one: migrations want a real session. */
  direct?: string;
}

/**
 * The deployed database's URL: the `DatabaseUrl` resource the infra links to every function
 * (infra/database.ts), else DATABASE_URL. Throws rather than falling back to an embedded
 * PGlite, which is never what a Lambda wants.
 */
export function deployedDatabaseUrl(connection: "pooled" | "direct" = "pooled"): string {
  const linked =
    "DatabaseUrl" in Resource ? (Resource as unknown as { DatabaseUrl: LinkedDatabase }).DatabaseUrl : undefined;
  const url = (connection === "direct" ? linked?.direct : undefined) ?? linked?.value ?? process.env.DATABASE_URL;
  if (!url) throw new Error("No database URL: link DatabaseUrl or set DATABASE_URL");
  return url;
}

/** The database of a Lambda: one pool per container, opened on first use and reused by every later invocation. */
export function lambdaDatabase(): Promise<Database> {
  database ??= connect(deployedDatabaseUrl(), { log: logger }).catch((error) => {
    database = undefined;
    throw error;
  });
  return database;
}
