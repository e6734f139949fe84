-- Join tokens with limits: how many devices may still join with one, and until when.
-- Tokens created before this migration have neither (NULL): they keep working, for any number
-- of devices, until revoked (the server says so once at start-up).
ALTER TABLE join_tokens
    ADD COLUMN max_uses   integer,
    ADD COLUMN uses_left  integer,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN revoked_at timestamptz;
-- Which token a device joined with (NULL for devices that joined before this migration).
ALTER TABLE devices ADD COLUMN join_token_hash bytea REFERENCES join_tokens (hash);
CREATE INDEX join_tokens_by_workspace ON join_tokens (workspace_id, created_at);
