-- The local schema version each device last sent (header x-flightdeck-schema: its newest
-- applied local migration), so that devices can tell which of them runs a newer build.
-- Append-only: never edit a released migration, add the next file instead.

ALTER TABLE devices ADD COLUMN schema_version integer;
