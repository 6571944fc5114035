-- Users seen at login, console sessions, and the append-only HMAC-chained audit log.
CREATE TABLE users (
    subject        TEXT PRIMARY KEY,
    email          TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL DEFAULT '',
    first_seen_ms  BIGINT NOT NULL,
    last_login_ms  BIGINT NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    expiry_ms  BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry_ms);

CREATE TABLE audit_entries (
    seq         BIGINT PRIMARY KEY,
    ts_ms       BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    prev_mac    TEXT NOT NULL,
    mac         TEXT NOT NULL
);
CREATE INDEX audit_entries_ts ON audit_entries (ts_ms);
CREATE INDEX audit_entries_actor ON audit_entries (actor);

-- Append-only: the console never updates or deletes an audit entry.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only';
END;
$$;
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
