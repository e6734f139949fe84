-- The hybrid logical clock of each local write transaction whose cells still carry the
-- version cr-sqlite counted (store/hlc.rs): the write path notes (db_version, clock) and the
-- cells are stamped with it before anything compares or sends them (a merge, a push, a read of
-- changes). Local only, never a CRR; emptied at each stamp.
CREATE TABLE hlc_pending (
    db_version INTEGER PRIMARY KEY NOT NULL,
    hlc INTEGER NOT NULL
);
