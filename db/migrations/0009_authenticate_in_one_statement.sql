-- Custom migration: authentication, role check and tenant set-up in one statement.
--
-- cairn_authenticate(key_hash) finds the key whose SHA-256 a request presents and returns who it
-- acts as: the key's workspace, person, scopes, the member's current role, and a fingerprint of
-- all of these. A missing, revoked or expired key raises SQLSTATE 28000 with the reason, so a
-- revoked key fails on its very next request. The caller sets the tenant from the returned row in
-- the same statement (db/client.ts, `authenticatedSetup`).
--
-- Given the fingerprint the caller authenticated with before (an API process keeps it in memory),
-- a key whose grants changed since (scopes, role, membership) raises CA001 instead: the caller
-- authenticates afresh and checks its scopes again. That lets a request send this check in the
-- same round trip as its own first statement.
--
-- SECURITY DEFINER: the owner reads the one key row and member row it needs, whatever RLS
-- would show cairn_app; EXECUTE is granted to cairn_app only. last_used_at is refreshed at most
-- once a minute, so authentication does not write on every request.
CREATE FUNCTION cairn_authenticate(presented_hash text, expected_fingerprint text DEFAULT NULL)
RETURNS TABLE (
  workspace_id uuid,
  user_id uuid,
  api_key_id uuid,
  scopes text[],
  role member_role,
  identity_verified boolean,
  fingerprint text
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  k api_keys%ROWTYPE;
  member_role_now member_role;
  verified boolean := false;
  print text;
BEGIN
  SELECT * INTO k FROM api_keys WHERE key_hash = presented_hash;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'The API key is not valid' USING ERRCODE = '28000';
  END IF;
  IF k.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'The API key has been revoked' USING ERRCODE = '28000';
  END IF;
  IF k.expires_at IS NOT NULL AND k.expires_at <= clock_timestamp() THEN
    RAISE EXCEPTION 'The API key has expired' USING ERRCODE = '28000';
  END IF;
  IF k.user_id IS NOT NULL THEN
    SELECT m.role, m.identity_verified INTO member_role_now, verified
    FROM workspace_members m WHERE m.workspace_id = k.workspace_id AND m.user_id = k.user_id;
  END IF;
  print := md5(concat_ws('|', k.id, k.workspace_id, k.user_id, array_to_string(k.scopes, ','),
                         member_role_now, coalesce(verified, false)));
  IF expected_fingerprint IS NOT NULL AND expected_fingerprint <> print THEN
    RAISE EXCEPTION 'The API key''s grants changed since it was last checked' USING ERRCODE = 'CA001';
  END IF;
  UPDATE api_keys SET last_used_at = now()
  WHERE id = k.id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
  RETURN QUERY SELECT k.workspace_id, k.user_id, k.id, k.scopes, member_role_now, coalesce(verified, false), print;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION cairn_authenticate(text, text) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION cairn_authenticate(text, text) TO cairn_app;
