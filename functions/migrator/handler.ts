/**
 * The migrator Lambda: applies pending migrations, then ensures the login roles the API and
 * job functions connect as (db/login-roles.ts; infra/database.ts names them and generates their
 * passwords), and reports how many migrations ran. `sst deploy` invokes it on every deploy
 * (infra/database.ts); a thrown error fails the deploy. It is the only function linked to the
 * owner's connection.
 */
import { connect } from "../../db/client";
import { ensureLoginRoles } from "../../db/login-roles";
import { migrate } from "../../db/migrate";
import { migratorDatabase } from "../shared/lambda-database";
import { logger } from "../shared/logger";

export async function handler(): Promise<{ applied: number }> {
  const started = performance.now();
  const { url, logins } = migratorDatabase();
  const database = await connect(url, { max: 1, log: logger });
  try {
    const result = await migrate(database);
    if (logins && database.kind !== "pglite") await ensureLoginRoles(database, logins);
    logger.info("migrations applied", {
      ...result,
      loginRoles: logins ? [logins.app.role, logins.jobs.role] : [],
      ms: Math.round(performance.now() - started),
    });
    return result;
  } finally {
    await database.close();
  }
}
