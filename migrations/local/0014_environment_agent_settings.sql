-- Per-environment agent settings: whether agent runs get a context file (1, the default, or 0),
-- and the branch worktree runs start from and merge into (NULL: the repository's current
-- branch). A device on an older build holds these cells unapplied until it upgrades.
SELECT crsql_begin_alter('environments');
ALTER TABLE environments ADD COLUMN agent_context INTEGER NOT NULL DEFAULT 1;
ALTER TABLE environments ADD COLUMN base_branch TEXT;
SELECT crsql_commit_alter('environments');
