-- A workflow's versions and runs are found by its name: since each version row has an id of
-- its own (derived from its content, so that two devices applying different files under one
-- name while offline keep both), a name is what ties them together.
CREATE INDEX workflow_runs_by_name ON workflow_runs (workflow_name, queued_at);
