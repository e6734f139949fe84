-- Workflow speed (issue 32): a run without a task, a schedule or a retry it repeats (every
-- workflow step, every ad hoc run) kept an entry in each of these three indexes, all of them
-- NULL, and every status change moved its entry in executions_by_schedule: pages each step's
-- write paid for and no query reads. Every query that uses them asks for a value
-- (`task_id = ?`, `schedule_id = ?`, `retry_of = ?`), which implies NOT NULL, so SQLite still
-- uses them (EXPLAIN QUERY PLAN checked).
DROP INDEX executions_by_task;
CREATE INDEX executions_by_task ON executions (task_id) WHERE task_id IS NOT NULL;
DROP INDEX executions_by_schedule;
CREATE INDEX executions_by_schedule ON executions (schedule_id, status)
    WHERE schedule_id IS NOT NULL;
DROP INDEX executions_by_retry_of;
CREATE INDEX executions_by_retry_of ON executions (retry_of) WHERE retry_of IS NOT NULL;
