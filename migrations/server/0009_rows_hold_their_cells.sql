-- Server ingest (issue 20): a replicated row and all its winning cells are one Postgres row.
-- A push used to write one `cells` row per cell, and each cost two index entries (the primary
-- key and the pull order): measured in psql on 200,000 cells in 40 transactions of 500 rows
-- of 10 cells, 1,090-1,390 ms against 102-103 ms for the same rows as one row each. The cells
-- are kept as one bytea per row (sync-server/src/db/cell_blob.rs reads and writes it; the
-- expression below writes the same layout) and a pull sends the whole row of every row changed
-- after its cursor. Append-only: never edit a released migration, add the next file instead.

-- No foreign key to workspaces: only a push writes entities, in a transaction that holds its
-- workspace's row locked, and nothing deletes workspaces (a key cost a trigger call a row;
-- 0008 dropped the cells' key for the same reason).
CREATE TABLE entities (
    workspace_id  uuid NOT NULL,
    tbl           text NOT NULL,
    pk            bytea NOT NULL,
    -- Causal length: odd while the row exists, even once deleted.
    cl            bigint NOT NULL,
    -- The workspace sequence number of the push that last changed any of the row's cells.
    seq           bigint NOT NULL,
    -- How many cells `cells` holds (pages are cut by cells).
    ncells        integer NOT NULL,
    cells         bytea NOT NULL,
    PRIMARY KEY (workspace_id, tbl, pk)
);
-- Pulls walk a workspace's rows in sequence order, counting cells to find a page's end.
CREATE INDEX entities_in_pull_order ON entities (workspace_id, seq) INCLUDE (ncells);

INSERT INTO entities (workspace_id, tbl, pk, cl, seq, ncells, cells)
SELECT r.workspace_id, r.tbl, r.pk, r.cl, max(c.seq), count(*),
       string_agg(
           int4send(octet_length(convert_to(c.cid, 'UTF8'))) || convert_to(c.cid, 'UTF8')
           || int2send(c.val_type)
           || CASE c.val_type
                  WHEN 1 THEN int8send(c.val_int)
                  WHEN 2 THEN float8send(c.val_real)
                  WHEN 3 THEN int4send(octet_length(c.val_bytes)) || c.val_bytes
                  WHEN 4 THEN int4send(octet_length(c.val_bytes)) || c.val_bytes
                  ELSE ''::bytea
              END
           || int8send(c.col_version) || int8send(c.db_version)
           || int4send(octet_length(c.site_id)) || c.site_id
           || int8send(c.crsql_seq),
           ''::bytea ORDER BY c.cid COLLATE "C")
FROM rows r
JOIN cells c ON c.workspace_id = r.workspace_id AND c.tbl = r.tbl AND c.pk = r.pk
GROUP BY r.workspace_id, r.tbl, r.pk, r.cl;

-- The server epoch (sync-server/src/db/epoch.rs) took the OID of `cells`, which a restore
-- recreates. It now takes the OID of `entities`; so that this migration is not mistaken for a
-- restore (every device would push and pull everything again), the epoch keeps the old OID for
-- as long as `entities` is the table made here.
ALTER TABLE server_identity ADD COLUMN cells_oid bigint, ADD COLUMN entities_oid bigint;
UPDATE server_identity SET cells_oid = 'cells'::regclass::oid::int8,
                           entities_oid = 'entities'::regclass::oid::int8;

DROP TABLE cells;
DROP TABLE rows;
