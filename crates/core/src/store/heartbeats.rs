//! `device_heartbeats`: one row per device, written by that device's worker (see
//! [`crate::workflows::lease`]).

use flightdeck_types::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

/// A device's last heartbeat and the lease it promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub seen_at: Timestamp,
    pub lease_ms: i64,
}

impl Heartbeat {
    /// When another device may adopt its runs.
    pub fn lapses_at(&self) -> Timestamp {
        Timestamp(self.seen_at.as_millis().saturating_add(self.lease_ms))
    }
}

pub fn get(c: &Connection, device_id: &str) -> Result<Option<Heartbeat>> {
    Ok(
        c.prepare_cached("SELECT seen_at, lease_ms FROM device_heartbeats WHERE device_id = ?1")?
            .query_row([device_id], |r| {
                Ok(Heartbeat {
                    seen_at: Timestamp(r.get(0)?),
                    lease_ms: r.get(1)?,
                })
            })
            .optional()?,
    )
}

pub fn put(c: &Connection, device_id: &str, beat: Heartbeat) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO device_heartbeats (device_id, seen_at, lease_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (device_id) DO UPDATE SET seen_at = excluded.seen_at,
             lease_ms = excluded.lease_ms",
    )?
    .execute(params![device_id, beat.seen_at.as_millis(), beat.lease_ms])?;
    Ok(())
}
