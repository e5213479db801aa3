-- Custom migration: what the runtime's login roles need (db/login-roles.ts creates them; the
-- owner that migrates is never the role requests or jobs log in as).
--
-- Jobs log in as a NOINHERIT member of cairn_maintenance alone. A job that works for one
-- workspace (processing its events, delivering its webhook) runs that transaction as the
-- workspace's tenant, so cairn_maintenance may SET ROLE cairn_app. NOINHERIT keeps a
-- maintenance transaction under its own policies only: cairn_app's never apply to it.
ALTER ROLE cairn_maintenance NOINHERIT;
--> statement-breakpoint
GRANT cairn_app TO cairn_maintenance;
--> statement-breakpoint
-- A connector's signed delivery names the connector before its workspace is known (as an
-- API key does, see key_lookup): the request sets app.connector_id to the id in its path,
-- and only that connector is visible, to read its workspace, status and signing secret.
CREATE POLICY connector_lookup ON "connectors" FOR SELECT TO cairn_app
  USING (id = nullif(current_setting('app.connector_id', true), '')::uuid);
