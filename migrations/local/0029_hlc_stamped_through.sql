-- A write notes its clock in hlc_pending once per millisecond per store (store/hlc.rs); the
-- writes after it in the same millisecond are stamped from the newest note at or below their
-- db_version. So a stamp keeps the newest note and records here how far it stamped: the next
-- stamp starts above that.
ALTER TABLE hlc_pending ADD COLUMN stamped_through INTEGER;
