-- Incidents and their timelines, guarded rollbacks, the notification outbox, job leases and the
-- last alarm state seen per alarm (to record transitions).
CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    title            TEXT NOT NULL,
    environment      TEXT NOT NULL,
    severity         BIGINT NOT NULL,
    status           TEXT NOT NULL,
    commander        TEXT NOT NULL DEFAULT '',
    communications   TEXT NOT NULL DEFAULT '',
    alarms           TEXT NOT NULL DEFAULT '[]',
    services         TEXT NOT NULL DEFAULT '[]',
    ticket           TEXT NOT NULL DEFAULT '',
    declared_by      TEXT NOT NULL,
    started_ms       BIGINT NOT NULL,
    acknowledged_ms  BIGINT,
    resolved_ms      BIGINT,
    closed_ms        BIGINT,
    postmortem       TEXT NOT NULL DEFAULT '',
    updated_ms       BIGINT NOT NULL
);
CREATE INDEX incidents_status ON incidents (status);

CREATE TABLE timeline_entries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  BIGINT NOT NULL REFERENCES incidents (id),
    at_ms        BIGINT NOT NULL,
    recorded_ms  BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    text         TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}',
    dedupe_key   TEXT,
    pinned       BIGINT NOT NULL DEFAULT 0,
    UNIQUE (incident_id, dedupe_key)
);
CREATE INDEX timeline_entries_incident ON timeline_entries (incident_id, at_ms);

-- Nothing on a timeline is ever deleted or rewritten: corrections are new entries. Only the pin
-- flag may change.
CREATE TRIGGER timeline_entries_no_delete BEFORE DELETE ON timeline_entries
BEGIN SELECT RAISE(ABORT, 'timeline_entries is append-only'); END;
CREATE TRIGGER timeline_entries_no_rewrite
BEFORE UPDATE OF id, incident_id, at_ms, recorded_ms, kind, actor, text, detail, dedupe_key ON timeline_entries
BEGIN SELECT RAISE(ABORT, 'timeline entries are never rewritten'); END;

CREATE TABLE rollbacks (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    environment           TEXT NOT NULL,
    cluster               TEXT NOT NULL,
    service               TEXT NOT NULL,
    from_task_definition  TEXT NOT NULL,
    to_task_definition    TEXT NOT NULL,
    incident_id           BIGINT,
    reason                TEXT NOT NULL,
    requested_by          TEXT NOT NULL,
    requested_ms          BIGINT NOT NULL,
    confirmed_by          TEXT,
    confirmed_ms          BIGINT,
    status                TEXT NOT NULL,
    progress              TEXT NOT NULL DEFAULT '',
    finished_ms           BIGINT
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key  TEXT NOT NULL UNIQUE,
    environment      TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    delivered_ms     BIGINT,
    last_error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (delivered_ms, next_attempt_ms);

CREATE TABLE job_leases (
    name      TEXT PRIMARY KEY,
    holder    TEXT NOT NULL,
    until_ms  BIGINT NOT NULL
);

CREATE TABLE alarm_states (
    environment  TEXT NOT NULL,
    alarm        TEXT NOT NULL,
    state        TEXT NOT NULL,
    since_ms     BIGINT NOT NULL,
    PRIMARY KEY (environment, alarm)
);
