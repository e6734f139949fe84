-- Local-only derived indexes over `memories` (NOT CRRs: each device computes them from the
-- synced text). `memory_index` gives each memory an integer key shared by the FTS5 table and
-- the sqlite-vec table, which is created at runtime because its dimension follows the model.
CREATE TABLE memory_index (
    key INTEGER PRIMARY KEY,
    memory_id TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    -- memories.updated_at when indexed: a cheap staleness test before hashing the content.
    source_updated_at INTEGER NOT NULL,
    has_vector INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX memory_index_without_vector ON memory_index (has_vector) WHERE has_vector = 0;

CREATE VIRTUAL TABLE memory_fts USING fts5(content, tokenize = 'porter unicode61');

-- The embedding model the vectors were made with: key 'model' and 'dimension'.
CREATE TABLE memory_index_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
