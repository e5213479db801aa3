import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations from db/schema into db/migrations.
// Applying them is `npm run db:migrate` (scripts/migrate.ts), which also runs the
// custom SQL migrations kept in the same folder.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema/index.ts",
  out: process.env.CAIRN_MIGRATIONS_OUT ?? "./db/migrations",
});
