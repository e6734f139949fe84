-- A random id for this database, made once: one part of the server epoch that devices use to
-- notice that their server was replaced (a new database has a new id). A restore from a dump
-- brings the id back, so the epoch also takes the OID of the cells table, which a restore
-- recreates (sync-server/src/db/epoch.rs).
-- Append-only: never edit a released migration, add the next file instead.

CREATE TABLE server_identity (
    id          uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO server_identity (id) VALUES (gen_random_uuid());
