-- Local-only tables: never CRRs, never synced. Each device keeps its own.

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Sync cursors and server identity, one row per key (the sync engine owns the keys).
CREATE TABLE sync_state (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- A remote change that overwrote a local value the server had not acknowledged yet.
CREATE TABLE conflict_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    pk TEXT NOT NULL,                         -- the row's primary key, JSON
    column_name TEXT NOT NULL,
    local_value TEXT,                         -- JSON
    remote_value TEXT,                        -- JSON
    remote_site_id TEXT,
    detected_at INTEGER NOT NULL,
    restored_at INTEGER
);

-- Advisory locks between processes on one database (e.g. one scheduler per workspace).
CREATE TABLE locks (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    pid INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
