-- API tokens for automation: issued by an admin, scoped to one role, stored hashed, expiring,
-- revocable. `id` is public (it names the token in audit entries); only the SHA-256 of the whole
-- token is kept.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_by    TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    revoked_ms    BIGINT,
    last_used_ms  BIGINT
);
