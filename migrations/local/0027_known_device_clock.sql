-- How far each known device's clock was ahead of the sync server's when it last synced
-- (milliseconds; negative: behind), from the server's device list: `sync status` names the
-- devices whose clocks are off. Local only, like the rest of known_devices.
ALTER TABLE known_devices ADD COLUMN clock_offset_ms INTEGER;
