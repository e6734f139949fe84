-- A device's heartbeat while its worker runs (issue 32, item 5): renewed every quarter of
-- its lease; once `seen_at + lease_ms` has passed, another device may adopt the workflow runs
-- it was running. One row per device, written by that device only.
CREATE TABLE device_heartbeats (
    device_id TEXT PRIMARY KEY NOT NULL,
    seen_at INTEGER NOT NULL DEFAULT 0,
    lease_ms INTEGER NOT NULL DEFAULT 0
);
SELECT crsql_as_crr('device_heartbeats');
