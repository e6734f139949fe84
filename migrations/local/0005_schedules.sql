-- The scheduler's query: this device's enabled schedules that are due.
CREATE INDEX schedules_due ON schedules (runner_device_id, enabled, next_fire_at);
