-- Login roles (migration 0008) are NOINHERIT members of cairn_app: they hold none of its grants
-- until the transaction's set-up sets the role, and that set-up statement is the one that calls
-- cairn_authenticate (migration 0009), whose EXECUTE privilege is checked when the statement
-- starts, before any set_config. So the function is executable by every role. It stays safe:
-- it is SECURITY DEFINER, reads only the key row matching the SHA-256 given (which only the key's
-- holder or a reader of api_keys knows), and answers that key's own workspace, person and scopes.
GRANT EXECUTE ON FUNCTION cairn_authenticate(text, text) TO PUBLIC;
