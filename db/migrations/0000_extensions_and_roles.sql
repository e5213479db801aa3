-- Custom migration: what the data model needs before drizzle-kit's tables.
-- pgvector for embeddings; gen_random_uuid() is built into PostgreSQL 13+.
CREATE EXTENSION IF NOT EXISTS vector;
--> statement-breakpoint
-- cairn_app: the role every API request runs as (SET LOCAL ROLE inside its transaction).
-- NOLOGIN, no BYPASSRLS: row-level security always applies to it.
-- cairn_maintenance: the role scheduled jobs use to work across workspaces (tiering,
-- sweeps, dead-letter reprocessing, event processing). Its RLS policies (next migrations)
-- admit every workspace, but only for this role, and only the jobs switch to it.
-- Roles are cluster-wide, so creation tolerates another database having made them.
DO $$
BEGIN
  BEGIN
    CREATE ROLE cairn_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  BEGIN
    CREATE ROLE cairn_maintenance NOLOGIN NOSUPERUSER NOBYPASSRLS;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
END
$$;
--> statement-breakpoint
-- The connecting (migrating) user must be able to SET ROLE to both.
GRANT cairn_app TO CURRENT_USER;
--> statement-breakpoint
GRANT cairn_maintenance TO CURRENT_USER;
