-- Server ingest (issue 20): the cells table no longer has Postgres check each cell's row with
-- a foreign key. Only a push writes cells (db/cells.rs, apply_push), and it writes a cell's row
-- in the same transaction, under the workspace's lock, in the statement sent just before the
-- cells'; nothing deletes rows. The check cost a trigger call per cell that looked the row up
-- and locked it (FOR KEY SHARE): measured on a 20,000-task push in 5,000-cell batches, the
-- push's database work went from 125-160 ms to 66-93 ms a batch.
ALTER TABLE cells DROP CONSTRAINT cells_workspace_id_tbl_pk_fkey;
