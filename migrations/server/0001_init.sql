-- The sync server's state: workspaces, their devices and tokens, and the winning version of
-- every cell under cr-sqlite's merge rule (so a new device bootstraps from live state).
-- Append-only: never edit a released migration, add the next file instead.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The newest sequence number, given to the latest push that changed any cell.
    head        bigint NOT NULL DEFAULT 0
);

-- Tokens are stored only as SHA-256 hashes.
CREATE TABLE join_tokens (
    hash          bytea PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked       boolean NOT NULL DEFAULT false
);

CREATE TABLE devices (
    id                 uuid PRIMARY KEY,
    workspace_id       uuid NOT NULL REFERENCES workspaces (id),
    name               text NOT NULL,
    -- The device's cr-sqlite site id: the only site id its pushes may carry.
    site_id            bytea NOT NULL,
    token_hash         bytea NOT NULL UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz,
    revoked_at         timestamptz,
    -- The highest db_version this device has had acknowledged.
    pushed_db_version  bigint NOT NULL DEFAULT 0
);
CREATE INDEX devices_by_workspace ON devices (workspace_id);

-- One row of a replicated table, by packed primary key.
CREATE TABLE rows (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id),
    tbl           text NOT NULL,
    pk            bytea NOT NULL,
    -- Causal length: odd while the row exists, even once deleted.
    cl            bigint NOT NULL,
    PRIMARY KEY (workspace_id, tbl, pk)
);

-- The winning version of one column of one row (cid '-1' is the row's existence sentinel).
CREATE TABLE cells (
    workspace_id  uuid NOT NULL,
    tbl           text NOT NULL,
    pk            bytea NOT NULL,
    cid           text NOT NULL,
    -- The SQLite value as a typed pair: 0 null, 1 integer, 2 real, 3 text, 4 blob. Text is
    -- kept as its UTF-8 bytes in val_bytes because Postgres text cannot hold NUL, SQLite's can.
    val_type      smallint NOT NULL CHECK (val_type BETWEEN 0 AND 4),
    val_int       bigint,
    val_real      double precision,
    val_bytes     bytea,
    col_version   bigint NOT NULL,
    -- The winning change's own metadata, handed on unchanged to pulling devices.
    db_version    bigint NOT NULL,
    site_id       bytea NOT NULL,
    cl            bigint NOT NULL,
    crsql_seq     bigint NOT NULL,
    -- The workspace sequence number of the push that last changed this cell.
    seq           bigint NOT NULL,
    PRIMARY KEY (workspace_id, tbl, pk, cid),
    FOREIGN KEY (workspace_id, tbl, pk) REFERENCES rows (workspace_id, tbl, pk)
);
CREATE INDEX cells_by_seq ON cells (workspace_id, seq);
