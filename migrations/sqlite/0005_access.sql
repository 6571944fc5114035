-- Break-glass access: requests (the approval ticket and its state machine), approvals (one row
-- per approver and decision), and grants (one per request; only the access key id and expiry of
-- the issued credentials are kept, never the secret).
CREATE TABLE access_requests (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    environment       TEXT NOT NULL,
    profile           TEXT NOT NULL,
    requester         TEXT NOT NULL,
    reason            TEXT NOT NULL,
    ticket            TEXT NOT NULL DEFAULT '',
    incident_id       BIGINT,
    duration_minutes  BIGINT NOT NULL,
    emergency         BIGINT NOT NULL DEFAULT 0,
    extends_id        BIGINT,
    status            TEXT NOT NULL,
    created_ms        BIGINT NOT NULL,
    pending_until_ms  BIGINT NOT NULL,
    approved_ms       BIGINT,
    window_end_ms     BIGINT,
    ended_ms          BIGINT,
    ended_by          TEXT NOT NULL DEFAULT '',
    review_status     TEXT NOT NULL DEFAULT '',
    reviewed_by       TEXT NOT NULL DEFAULT '',
    review_note       TEXT NOT NULL DEFAULT '',
    updated_ms        BIGINT NOT NULL
);
CREATE INDEX access_requests_status ON access_requests (status);
CREATE INDEX access_requests_requester ON access_requests (requester);

CREATE TABLE access_approvals (
    request_id  BIGINT NOT NULL REFERENCES access_requests (id),
    approver    TEXT NOT NULL,
    decision    TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    at_ms       BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver)
);

CREATE TABLE access_grants (
    request_id     BIGINT PRIMARY KEY REFERENCES access_requests (id),
    role_arn       TEXT NOT NULL,
    session_name   TEXT NOT NULL,
    access_key_id  TEXT NOT NULL,
    issued_ms      BIGINT NOT NULL,
    expires_ms     BIGINT NOT NULL
);
