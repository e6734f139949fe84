-- The sequence number each device last pulled up to (the `next` of its latest pull), so that
-- /metrics can report how far behind the workspace's head a device is.
-- Append-only: never edit a released migration, add the next file instead.

ALTER TABLE devices ADD COLUMN pulled_seq bigint NOT NULL DEFAULT 0;
