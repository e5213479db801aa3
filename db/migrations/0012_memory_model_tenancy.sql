-- Custom migration: what 0011_memory_model (the memory model: validity, supersession, subjects,
-- projects, expiry, the work-to-memory ledger) needs beyond Drizzle's schema.
--
-- Facts recorded before validity existed became true when they were recorded.
UPDATE "memories" SET "valid_from" = "created_at";
--> statement-breakpoint
-- The dedup key: the same normalised content is one memory per workspace, subject (user, agent,
-- session) and project, among open facts. A closed fact (superseded, or stored with validTo) is
-- a record of the past: storing its content again makes a new memory. NULLS NOT DISTINCT: a
-- memory without a subject is one subject ("nobody in particular"), not a fresh one each time.
CREATE UNIQUE INDEX "memories_dedup_key" ON "memories"
  ("workspace_id", "content_hash", "user_id", "agent_id", "session_id", "project_id") NULLS NOT DISTINCT
  WHERE "valid_to" IS NULL;
--> statement-breakpoint
-- The item a memory was written from (declared here: db/schema/work.ts imports memory.ts).
ALTER TABLE "memories" ADD CONSTRAINT "memories_source_item_id_work_items_id_fk"
  FOREIGN KEY ("source_item_id") REFERENCES "public"."work_items"("id") ON DELETE SET NULL;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "projects", "work_item_memories" TO cairn_app, cairn_maintenance;
--> statement-breakpoint
ALTER TABLE "projects" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "projects" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "projects" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "projects" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "work_item_memories" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "work_item_memories" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "work_item_memories" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "work_item_memories" TO cairn_maintenance USING (true) WITH CHECK (true);
