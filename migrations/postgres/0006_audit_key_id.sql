-- Each audit entry names the id of the key that sealed it (a public id derived from the key, never
-- the key), so the key can rotate (`ops-console audit rekey`). Rows written before this migration
-- keep an empty id: they were sealed with the chain's first key (see docs/SECURITY.md).
-- ADD COLUMN changes no row, so the append-only triggers are not involved.
ALTER TABLE audit_entries ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
