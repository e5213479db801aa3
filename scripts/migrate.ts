// `npm run db:migrate`: apply db/migrations to DATABASE_URL (or the embedded PGlite folder).
import { migrateDatabase } from "../db/migrate";

const { applied } = await migrateDatabase(process.env.DATABASE_URL);
process.stdout.write(`migrations applied: ${applied}\n`);
