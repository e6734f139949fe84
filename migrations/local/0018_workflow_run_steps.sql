-- Each step's state in a row of its own (issue 32, speed): the run's `checkpoint` cell keeps
-- what is small (params, boundaries, deadlines, overrides) with `steps` empty, and a boundary
-- writes only the rows of the steps that moved. One JSON cell with every step's state was
-- rewritten at every boundary (about 300 KB each at 1,000 steps), so a step cost more the
-- longer its chain. Runs written before this keep their steps in `checkpoint` and are read
-- as they are; a live one moves its steps here at its next save.
CREATE TABLE workflow_run_steps (
    run_id TEXT NOT NULL,
    step_key TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, step_key)
);
SELECT crsql_as_crr('workflow_run_steps');
