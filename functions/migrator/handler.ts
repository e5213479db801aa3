/**
 * The migrator Lambda: applies pending migrations and reports how many ran. `sst deploy`
 * invokes it on every deploy (infra/database.ts); a thrown error fails the deploy.
 */
import { Resource } from "sst/resource";
import { migrateDatabase } from "../../db/migrate";

interface LinkedDatabase {
  value: string;
  /** The unpooled connection string: migrations want a real session, not PgBouncer. */
  direct?: string;
}

function databaseUrl(): string | undefined {
  const linked = "DatabaseUrl" in Resource ? (Resource as unknown as { DatabaseUrl: LinkedDatabase }).DatabaseUrl : undefined;
  return linked?.direct ?? linked?.value ?? process.env.DATABASE_URL;
}

export async function handler(): Promise<{ applied: number }> {
  const url = databaseUrl();
  // Without a URL, connect() would fall back to an embedded PGlite: never what a deploy wants.
  if (!url) throw new Error("No database URL: link DatabaseUrl or set DATABASE_URL");
  const result = await migrateDatabase(url);
  console.log(JSON.stringify({ msg: "migrations applied", ...result }));
  return result;
}
