import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { connect, type Database, rows } from "./client";

/**
 * Where the SQL migrations are: next to this file in the repository, or wherever a
 * bundle copied them (`CAIRN_MIGRATIONS_DIR`, set by the migrator Lambda).
 */
export function migrationsFolder(): string {
  return process.env.CAIRN_MIGRATIONS_DIR ?? fileURLToPath(new URL("./migrations", import.meta.url));
}

async function appliedCount(database: Database): Promise<number> {
  const [exists] = await rows<{ table: string | null }>(
    database.db,
    sql`select to_regclass('drizzle.__drizzle_migrations')::text as table`,
  );
  if (!exists?.table) return 0;
  const [row] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return Number(row?.n ?? 0);
}

/** Applies pending migrations (drizzle-kit output and custom SQL, in journal order). */
export async function migrate(database: Database, folder = migrationsFolder()): Promise<{ applied: number }> {
  const before = await appliedCount(database);
  const config = { migrationsFolder: folder };
  if (database.kind === "pglite") {
    const { migrate: run } = await import("drizzle-orm/pglite/migrator");
    await run(database.db as never, config);
  } else if (database.kind === "neon") {
    const { migrate: run } = await import("drizzle-orm/neon-serverless/migrator");
    await run(database.db as never, config);
  } else {
    const { migrate: run } = await import("drizzle-orm/node-postgres/migrator");
    await run(database.db as never, config);
  }
  return { applied: (await appliedCount(database)) - before };
}

/** Connects, migrates, disconnects: what `npm run db:migrate` and the migrator Lambda do. */
export async function migrateDatabase(url: string | undefined): Promise<{ applied: number }> {
  const database = await connect(url, { max: 1 });
  try {
    return await migrate(database);
  } finally {
    await database.close();
  }
}
