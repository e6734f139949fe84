-- The devices this device takes work from (runs, schedule fires and workflow steps whose
-- commands they wrote), besides itself. Local only: never a CRR, never synced, since trust is
-- each device's own decision and a synced list could be rewritten by the devices it names.
CREATE TABLE trusted_devices (
    site_id BLOB PRIMARY KEY NOT NULL,
    trusted_at INTEGER NOT NULL
);
