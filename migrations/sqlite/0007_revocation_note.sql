-- How a revocation stopped a grant's credentials when it was not by the session's own deny:
-- the role's inline policies were full and one role-wide aws:TokenIssueTime deny took over.
-- Shown on the request's page; empty for every other request.
ALTER TABLE access_requests ADD COLUMN revocation TEXT NOT NULL DEFAULT '';
