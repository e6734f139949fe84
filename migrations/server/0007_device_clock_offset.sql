-- How far each device's clock was ahead of the server's (milliseconds; negative: behind), as
-- its last requests said (header x-flightdeck-client-time), so that devices can be told
-- whose clock is off. Written only when it moves by more than a second.
ALTER TABLE devices ADD COLUMN clock_offset_ms bigint;
