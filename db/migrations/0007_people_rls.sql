-- Custom migration: people are visible only through a workspace they share with the caller.
--
-- users: a request (cairn_app) reads a user row only when it is the acting user or a member of
-- the request's workspace; jobs (cairn_maintenance) read all. Finding or creating a user by
-- email must not reveal whether another workspace knows the address, so it goes through one
-- SECURITY DEFINER function that answers an id either way (a new one or the existing one, which
-- look alike) and nothing else.
-- Not FORCEd, unlike the tenant tables: the table's owner (the migrator's role, which owns
-- cairn_ensure_user below) must read it whole; the runtime roles are not its owner.
ALTER TABLE "users" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY shared_workspace ON "users" FOR SELECT TO cairn_app
  USING (id = cairn_current_user()
         OR EXISTS (SELECT 1 FROM workspace_members m
                    WHERE m.user_id = users.id AND m.workspace_id = cairn_current_workspace()));
--> statement-breakpoint
CREATE POLICY maintenance ON "users" TO cairn_maintenance USING (true) WITH CHECK (true);
--> statement-breakpoint
REVOKE INSERT, UPDATE, DELETE ON "users" FROM cairn_app;
--> statement-breakpoint
CREATE FUNCTION cairn_ensure_user(address text) RETURNS uuid
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  found uuid;
BEGIN
  INSERT INTO users (email) VALUES (lower(btrim(address))) ON CONFLICT (email) DO NOTHING RETURNING id INTO found;
  IF found IS NULL THEN
    SELECT id INTO found FROM users WHERE email = lower(btrim(address));
  END IF;
  RETURN found;
END $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION cairn_ensure_user(text) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION cairn_ensure_user(text) TO cairn_app, cairn_maintenance;
--> statement-breakpoint
-- Invitations: tenant data, plus one lookup by the secret's hash before the workspace is known
-- (accepting an invitation is authenticated by its secret alone), like api_keys' key_lookup.
GRANT SELECT, INSERT, UPDATE, DELETE ON "invitations" TO cairn_app, cairn_maintenance;
--> statement-breakpoint
ALTER TABLE "invitations" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "invitations" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON "invitations" TO cairn_app
  USING (workspace_id = cairn_current_workspace())
  WITH CHECK (workspace_id = cairn_current_workspace());
--> statement-breakpoint
CREATE POLICY invitation_lookup ON "invitations" FOR SELECT TO cairn_app
  USING (secret_hash = nullif(current_setting('app.invitation_hash', true), ''));
--> statement-breakpoint
CREATE POLICY maintenance ON "invitations" TO cairn_maintenance USING (true) WITH CHECK (true);
