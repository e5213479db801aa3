// `npm run db:migrate`: apply db/migrations to DATABASE_URL (or the embedded PGlite folder).
import { migrateDatabase } from "../db/migrate";
import { describeFailure } from "../db/user-error";

try {
  const { applied } = await migrateDatabase(process.env.DATABASE_URL);
  process.stdout.write(`migrations applied: ${applied}\n`);
} catch (error) {
  // A refusal (the PGlite folder in use) is one sentence; anything else keeps its stack.
  process.stderr.write(`${describeFailure(error)}\n`);
  process.exit(1);
}
