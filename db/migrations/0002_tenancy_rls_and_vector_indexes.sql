-- Custom migration: tenancy (row-level security), grants, per-dimension vector indexes and
-- the immutable decision log. None of this is expressible in Drizzle's schema.
--
-- Tenancy: every request's transaction runs
--   select set_config('app.workspace_id', $1, true), set_config('role', 'cairn_app', true)
-- so each policy below compares workspace_id with that setting. A missing or empty setting
-- matches nothing. FORCE makes the table owner obey the policies too (superusers and
-- roles with BYPASSRLS still bypass them, which is why requests switch to cairn_app).
GRANT USAGE ON SCHEMA public TO cairn_app, cairn_maintenance;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO cairn_app, cairn_maintenance;
--> statement-breakpoint
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO cairn_app, cairn_maintenance;
--> statement-breakpoint
CREATE FUNCTION cairn_current_workspace() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.workspace_id', true), '')::uuid $$;
--> statement-breakpoint
CREATE FUNCTION cairn_current_user() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
--> statement-breakpoint
ALTER TABLE "workspace_members" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "workspace_members" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "workspace_members" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "workspace_members" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "api_keys" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "api_keys" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "activity_log" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "activity_log" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "activity_log" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "activity_log" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "workflow_templates" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "workflow_templates" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "workflow_templates" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "workflow_templates" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "work_orders" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "work_orders" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "work_orders" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "work_orders" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "work_items" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "work_items" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "work_items" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "work_items" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "attempts" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "attempts" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "attempts" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "attempts" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "dead_letters" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "dead_letters" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "dead_letters" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "dead_letters" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "eval_results" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "eval_results" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "eval_results" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "eval_results" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "approval_policies" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "approval_policies" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "approval_policies" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "approval_policies" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "approval_requests" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "approval_requests" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "approval_requests" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "approval_requests" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "approval_events" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "approval_events" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "approval_events" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "approval_events" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "raw_events" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "raw_events" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "raw_events" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "raw_events" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "memories" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "memories" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "memories" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "memories" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "processing_jobs" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "processing_jobs" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "processing_jobs" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "processing_jobs" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "conversations" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "conversations" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "conversations" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "conversations" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "conversation_memories" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "conversation_memories" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "conversation_memories" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "conversation_memories" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "feedback" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "feedback" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "feedback" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "feedback" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "connectors" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "connectors" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "connectors" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "connectors" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "tools" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tools" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "tools" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "tools" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "capabilities" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "capabilities" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "capabilities" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "capabilities" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "tool_capabilities" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tool_capabilities" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "tool_capabilities" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "tool_capabilities" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
ALTER TABLE "schemas" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "schemas" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "schemas" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY maintenance ON "schemas" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
-- Workspaces: a request sees its own workspace, and (to list them) the workspaces its user
-- belongs to. A workspace row can only be written while it is the current workspace.
ALTER TABLE "workspaces" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "workspaces" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "workspaces" TO cairn_app
  USING (id = cairn_current_workspace())
  WITH CHECK (id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY member_can_list ON "workspaces" FOR SELECT TO cairn_app
  USING (id IN (SELECT workspace_id FROM workspace_members WHERE user_id = cairn_current_user()));
--> statement-breakpoint
CREATE POLICY own_memberships ON "workspace_members" FOR SELECT TO cairn_app
  USING (user_id = cairn_current_user());
--> statement-breakpoint
CREATE POLICY maintenance ON "workspaces" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
-- Authentication looks a key up by its hash before the workspace is known: the request
-- sets app.api_key_hash to the hash of the presented key, and only that row is visible.
CREATE POLICY key_lookup ON "api_keys" FOR SELECT TO cairn_app
  USING (key_hash = nullif(current_setting('app.api_key_hash', true), ''));
--> statement-breakpoint
-- The decision log is append-only, for every role including the owner.
REVOKE UPDATE, DELETE, TRUNCATE ON "approval_events" FROM cairn_app, cairn_maintenance;
--> statement-breakpoint
CREATE FUNCTION cairn_reject_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege'; END $$;
--> statement-breakpoint
CREATE TRIGGER approval_events_append_only BEFORE UPDATE OR DELETE ON "approval_events"
  FOR EACH ROW EXECUTE FUNCTION cairn_reject_change();
--> statement-breakpoint
CREATE TRIGGER approval_events_no_truncate BEFORE TRUNCATE ON "approval_events"
  FOR EACH STATEMENT EXECUTE FUNCTION cairn_reject_change();
--> statement-breakpoint
-- One HNSW index per supported embedding size, over the column cast to that size and
-- limited to the rows of that size. A search orders by `embedding::vector(N) <=> $q`
-- with `embedding_dims = N` in its WHERE clause, which is what lets the planner use it.
CREATE INDEX memories_embedding_768_hnsw ON "memories"
  USING hnsw ((embedding::vector(768)) vector_cosine_ops) WHERE embedding_dims = 768;
--> statement-breakpoint
CREATE INDEX memories_embedding_1536_hnsw ON "memories"
  USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE embedding_dims = 1536;
