-- Custom migration: full-text search through the GIN index under row-level security.
--
-- Postgres uses a WHERE condition as an index condition on a table with row-level security only
-- when its operator is LEAKPROOF (else it must run after the policy's condition, row by row);
-- `tsvector @@ tsquery` is not, and only a superuser can mark a function LEAKPROOF. So as
-- cairn_app every text search read the whole workspace's rows. This function finds the request's
-- workspace's memories matching a tsquery through memories_search_vector_idx: it runs as
-- cairn_maintenance (its owner, SECURITY DEFINER), whose policy is `true` and so leaves the GIN
-- index usable, and filters on the request's workspace (app.workspace_id) itself. It answers ids
-- only; the search joins them back to memories as cairn_app (RLS applies again) and applies its
-- filters there.
CREATE FUNCTION cairn_text_matches(query tsquery) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT m.id FROM memories m WHERE m.workspace_id = cairn_current_workspace() AND m.search_vector @@ query $$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION cairn_text_matches(tsquery) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION cairn_text_matches(tsquery) TO cairn_app, cairn_maintenance;
--> statement-breakpoint
-- A new owner needs CREATE on the schema (unless the migrator is a superuser): granted for the
-- change of owner only.
GRANT CREATE ON SCHEMA public TO cairn_maintenance;
--> statement-breakpoint
ALTER FUNCTION cairn_text_matches(tsquery) OWNER TO cairn_maintenance;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM cairn_maintenance;
