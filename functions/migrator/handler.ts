/**
 * The migrator Lambda: applies pending migrations and reports how many ran. `sst deploy`
 * invokes it on every deploy (infra/database.ts); a thrown error fails the deploy.
 */
import { migrateDatabase } from "../../db/migrate";
import { deployedDatabaseUrl } from "../shared/lambda-database";
import { logger } from "../shared/logger";

export async function handler(): Promise<{ applied: number }> {
  const started = performance.now();
  const result = await migrateDatabase(deployedDatabaseUrl("direct"));
  logger.info("migrations applied", { ...result, ms: Math.round(performance.now() - started) });
  return result;
}
