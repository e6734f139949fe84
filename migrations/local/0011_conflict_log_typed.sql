-- The conflict log kept its values in TEXT columns, whose affinity turned an integer or a
-- real into text (`tasks.updated_at` came back as "1796282873872"), and a restore then wrote
-- text into an integer column. Columns with no declared type keep each value's own type.
-- Rows logged before are converted: a text value of an INTEGER or REAL column of the logged
-- table that is exactly a number's text becomes that number again.
-- Append-only: never edit a released migration, add the next file instead.

CREATE TABLE conflict_log_typed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    pk TEXT NOT NULL,                         -- the row's primary key, JSON
    column_name TEXT NOT NULL,
    local_value,                              -- the value, with its SQLite type
    remote_value,
    remote_site_id TEXT,
    detected_at INTEGER NOT NULL,
    restored_at INTEGER
);

INSERT INTO conflict_log_typed (id, table_name, pk, column_name, local_value, remote_value,
                                remote_site_id, detected_at, restored_at)
SELECT c.id, c.table_name, c.pk, c.column_name,
       CASE
           WHEN typeof(c.local_value) = 'text' AND upper(t.type) LIKE '%INT%'
                AND CAST(CAST(c.local_value AS INTEGER) AS TEXT) = c.local_value
               THEN CAST(c.local_value AS INTEGER)
           WHEN typeof(c.local_value) = 'text' AND upper(t.type) IN ('REAL', 'DOUBLE', 'FLOAT')
                AND CAST(CAST(c.local_value AS REAL) AS TEXT) = c.local_value
               THEN CAST(c.local_value AS REAL)
           ELSE c.local_value
       END,
       CASE
           WHEN typeof(c.remote_value) = 'text' AND upper(t.type) LIKE '%INT%'
                AND CAST(CAST(c.remote_value AS INTEGER) AS TEXT) = c.remote_value
               THEN CAST(c.remote_value AS INTEGER)
           WHEN typeof(c.remote_value) = 'text' AND upper(t.type) IN ('REAL', 'DOUBLE', 'FLOAT')
                AND CAST(CAST(c.remote_value AS REAL) AS TEXT) = c.remote_value
               THEN CAST(c.remote_value AS REAL)
           ELSE c.remote_value
       END,
       c.remote_site_id, c.detected_at, c.restored_at
FROM conflict_log c
LEFT JOIN pragma_table_info(c.table_name) t ON t.name = c.column_name;

DROP TABLE conflict_log;
ALTER TABLE conflict_log_typed RENAME TO conflict_log;
