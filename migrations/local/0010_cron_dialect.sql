-- How a schedule's cron_expr is read. Rows written before are 'quartz' (the cron crate's
-- numbering, 1 = Sunday, and both day fields must match), so they keep firing when they did;
-- this build writes 'standard' (0 and 7 = Sunday, weekdays stored as names, Vixie's
-- day-of-month OR day-of-week). A device on an older build holds this column's cells
-- unapplied and reads the expression the old way; the weekday names read the same there.
SELECT crsql_begin_alter('schedules');
ALTER TABLE schedules ADD COLUMN cron_dialect TEXT NOT NULL DEFAULT 'quartz';
SELECT crsql_commit_alter('schedules');
