-- Local-only, never CRRs. Cells pulled from a device on a newer schema, for a table or a
-- column this build does not have yet: kept here (not lost, not blocking the rest of their
-- page) and merged once a later migration adds what they belong to.
CREATE TABLE held_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    pk BLOB NOT NULL,
    cid TEXT NOT NULL,
    val,                                      -- no type: the value keeps its SQLite type
    col_version INTEGER NOT NULL,
    db_version INTEGER NOT NULL,
    site_id BLOB NOT NULL,
    cl INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);

-- The workspace's devices as the server last listed them, so that `sync status` can name
-- the device held cells came from while offline.
CREATE TABLE known_devices (
    site_id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    schema_version INTEGER
);
