-- Insights (issue 16): figures over a window of queue time read only that window's runs.
CREATE INDEX executions_by_queued ON executions (queued_at);
CREATE INDEX workflow_runs_by_queued ON workflow_runs (queued_at);
