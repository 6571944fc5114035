-- The console roles a person had at their last login, to audit role changes.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
