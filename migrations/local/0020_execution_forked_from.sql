-- A plain run made by `flightdeck fork RUN` (issue 33, item 3): the run it was forked from,
-- so that both show their lineage.
SELECT crsql_begin_alter('executions');
ALTER TABLE executions ADD COLUMN forked_from TEXT;
SELECT crsql_commit_alter('executions');
